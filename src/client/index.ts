export type { Alarm, AlarmType } from "./alarm-wire.js";
export type { AuthApi } from "./auth-api.js";
export type {
  AuthChangeResult,
  AuthStatus,
  Permission,
  PermissionRange,
  PermissionType,
  RoleGetResult,
  RoleListResult,
  UserAddOptions,
  UserGetResult,
  UserListResult,
} from "./auth-wire.js";
export { type BackoffOptions, type RandomSource, seededRandom } from "./backoff.js";
export type { Bytes } from "./bytes.js";
export { type ClientOptions, ConclaveClient } from "./client.js";
export type {
  EndpointHealth,
  EndpointStatus,
  Member,
  MemberAddOptions,
  MemberAddResult,
  MemberListResult,
} from "./cluster-wire.js";
export {
  AbortedError,
  AuthFailedError,
  AuthRequiredError,
  BadResponseError,
  ClientClosedError,
  ClientError,
  CompactedError,
  DeadlineExceededError,
  IdempotencyKeyReusedError,
  InvalidAuthTokenError,
  LearnerNotReadyError,
  LeaseLostError,
  LeaseNotFoundError,
  NoSpaceError,
  NotLeaderError,
  OutcomeUnknownError,
  PermissionDeniedError,
  TooManyAuthRequestsError,
  UnavailableError,
  UnsafeReconfigurationError,
} from "./errors.js";
export type { TlsOptions } from "./http-agents.js";
export { KeyValue } from "./key-value.js";
export type * from "./kv-types.js";
export { LeaseKeeper, type LeaseKeeperOptions } from "./lease-keeper.js";
export type {
  LeaseGrantResult,
  LeaseKeepAliveResult,
  LeaseListResult,
  LeaseTimeToLiveResult,
} from "./lease-wire.js";
export { type RangePage, rangePages, scanRange } from "./range-pages.js";
export { type AttemptFailure, type CallKind, mayRetry } from "./retry-policy.js";
export type { CallOptions } from "./transport.js";
export type { WatchOptions, WatchStream } from "./watch-stream.js";
export {
  type ValueChange,
  type ValueWatchClient,
  type WatchValueOptions,
  watchValue,
} from "./watch-value.js";
export type { WatchBatch, WatchEvent, WatchFilter } from "./watch-wire.js";
