export { type ErrorBody, errorReply } from "./error-reply.js";
export { BadRequestError, HttpApiError, TooLargeError, TooManyOpsError } from "./errors.js";
export { NotReadyError } from "./health-routes.js";
export {
  LeaseExpiry,
  type LeaseExpiryOptions,
  type LeaseExpirySources,
  type ServerLeaseExpiryOptions,
} from "./lease-expiry.js";
export {
  createServerMetrics,
  type MetricsSources,
  ServerMetrics,
  type ServerMetricsOptions,
} from "./metrics.js";
export type { ServerLimits, ServerOptions } from "./options.js";
export { createServer } from "./server.js";
export { TooManyWatchersError, WatchRegistry } from "./watch-registry.js";
export { type WatchStats, watchRegistryOf, watchStatsOf } from "./watch-routes.js";
