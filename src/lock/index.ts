/**
 * `conclave/lock`: distributed locks, read-write locks, semaphores and leader
 * election with one API over several backends.
 */
export type {
  LeaseGrant,
  LeaseRef,
  LeaseRenewal,
  LeaseRequest,
  LockBackend,
  WaitControl,
} from "./backend.js";
export { LockClient } from "./client.js";
// Building blocks for backend authors.
export { atInstant, type Clock, ManualClock, sleep, systemClock } from "./clock.js";
export {
  BackendUnavailableError,
  LockAbortedError,
  LockAccessDeniedError,
  LockClientClosedError,
  LockError,
  LockLostError,
  LockTimeoutError,
  NotLockOwnerError,
  UnsupportedByBackendError,
} from "./errors.js";
export {
  MEMORY_GUARANTEES,
  MemoryLockBackend,
  type MemoryLockBackendOptions,
  MemoryLockStore,
} from "./memory/index.js";
export { type LeaderPoll, observeLeaderByPolling } from "./observe.js";
export {
  POSTGRES_ADVISORY_GUARANTEES,
  PostgresAdvisoryLockBackend,
  type PostgresAdvisoryLockBackendOptions,
} from "./postgres/advisory.js";
export {
  POSTGRES_GUARANTEES,
  PostgresLockBackend,
  type PostgresLockBackendOptions,
} from "./postgres/index.js";
export { Election, ReadWriteLock, Semaphore } from "./primitives.js";
export { RedisLockBackend, type RedisLockBackendOptions, redisGuarantees } from "./redis/index.js";
export {
  REDLOCK_GUARANTEES,
  RedlockBackend,
  type RedlockBackendOptions,
} from "./redlock/index.js";
export {
  type LeaderRunner,
  type LeaderRunPhase,
  type RunWhileLeaderOptions,
  runWhileLeader,
} from "./run-while-leader.js";
export { CallTimeouts } from "./timeout.js";
export {
  type AcquireOptions,
  type BackendGuarantees,
  type FencingToken,
  type HolderCrashBehaviour,
  LEASE_KINDS,
  type LeaderHandle,
  type LeaderSnapshot,
  type LeaseKind,
  type LockClientOptions,
  type LockHandle,
  type TokenType,
  type TryAcquireOptions,
} from "./types.js";
export {
  MAX_LEADER_VALUE_LENGTH,
  MAX_LOCK_NAME_LENGTH,
  MAX_PERMITS,
  MAX_TTL_MS,
  MIN_TTL_MS,
} from "./validate.js";
export { type AttemptOutcome, type WaitLoop, waitForGrant } from "./wait.js";
