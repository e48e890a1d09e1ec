export { type ErrorBody, errorReply } from "./error-reply.js";
export { BadRequestError, HttpApiError, TooLargeError, TooManyOpsError } from "./errors.js";
export { NotReadyError } from "./health-routes.js";
export type { ServerLimits, ServerOptions } from "./options.js";
export { createServer } from "./server.js";
export { TooManyWatchersError, WatchRegistry } from "./watch-registry.js";
export { watchRegistryOf } from "./watch-routes.js";
