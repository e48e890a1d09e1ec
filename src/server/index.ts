export { type ErrorBody, errorReply } from "./error-reply.js";
export { BadRequestError, HttpApiError, TooLargeError, TooManyOpsError } from "./errors.js";
export { NotReadyError } from "./health-routes.js";
export { HostNotAllowedError } from "./host-check.js";
export {
  createServerMetrics,
  type MetricsSources,
  ServerMetrics,
  type ServerMetricsOptions,
} from "./metrics.js";
export type { ServerLimits, ServerOptions } from "./options.js";
export {
  type ClusterHealth,
  checkLearnerReady,
  checkReconfiguration,
  LEARNER_READY_PERCENT,
  type MembershipChange,
} from "./reconfig-check.js";
export {
  LearnerNotReadyError,
  type QuorumCount,
  TooManyLearnersError,
  UnsafeReconfigurationError,
} from "./reconfig-errors.js";
export { RequestTooDeepError } from "./request-depth.js";
export { type PeerExposure, securityWarnings } from "./security-warnings.js";
export { createServer } from "./server.js";
export { TooManyWatchersError, WatchRegistry } from "./watch-registry.js";
export { type WatchStats, watchRegistryOf, watchStatsOf } from "./watch-routes.js";
