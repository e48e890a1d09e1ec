export { ALARM_TYPES, AlarmTable } from "./alarms.js";
export {
  AuthManagementError,
  AuthStateError,
  NotGrantedError,
  RoleExistsError,
  RoleNotFoundError,
  RootUserMissingError,
  UserExistsError,
  UserNotFoundError,
} from "./auth-errors.js";
export type * from "./auth-types.js";
export { ROOT_ROLE, ROOT_USER } from "./auth-types.js";
export {
  AutoCompaction,
  type AutoCompactionOptions,
  type AutoCompactionPolicy,
  type AutoCompactionSources,
  REVISION_COMPACTION_INTERVAL_MS,
  replicaCompactionSources,
} from "./auto-compaction.js";
export {
  compareBytes,
  type KeyInterval,
  keyInterval,
  prefixEnd,
  toKeyString,
  utf8,
} from "./bytes.js";
export { decodeCommand, encodeCommand } from "./codec.js";
export { commandDigest } from "./command-digest.js";
export {
  CompactedError,
  DuplicateKeyError,
  FutureRevisionError,
  IdempotencyKeyReusedError,
  InvalidKvCommandError,
  KeyNotFoundError,
  KvError,
  LeaseExistsError,
  LeaseNotFoundError,
  LeaseProvidedError,
  LeaseRenewedError,
  NoSpaceError,
  ValueProvidedError,
} from "./errors.js";
export {
  type HistoryHash,
  type HistoryHashOptions,
  hashHistory,
  hashStream,
} from "./history-hash.js";
export { expiredLeases, LeaseClock, takeoverDeadlineMs } from "./lease-clock.js";
export {
  LeaseExpiry,
  type LeaseExpiryOptions,
  type LeaseExpirySources,
  type ServerLeaseExpiryOptions,
} from "./lease-expiry.js";
export {
  encodeMemberAttributes,
  type MemberAttributes,
  type MemberAttributesResult,
  MemberTable,
  validateMemberAttributes,
} from "./members.js";
export { RECORD_OVERHEAD_BYTES } from "./mvcc.js";
export {
  DEFAULT_QUOTA_BACKEND_BYTES,
  exceedsQuota,
  LEASE_OVERHEAD_BYTES,
  resolveQuotaBytes,
  writeCostBytes,
} from "./quota.js";
export { KvReplica } from "./replica.js";
export {
  DEFAULT_REQUEST_WINDOW,
  REQUEST_ID_PATTERN,
  RequestLog,
  type RequestWindow,
} from "./requests.js";
export type { HistoryView, LeaseApplied } from "./store.js";
export { KvStore } from "./store.js";
export type * from "./types.js";
export { validateCommand } from "./validate.js";
export type { WatchCallback, Watcher, WatchOptions, WatchResponse } from "./watch.js";
export { type WatchStream, watchStream } from "./watch-iterator.js";
