/**
 * `conclave/lock`: distributed locks, read-write locks, semaphores and leader
 * election with one API over several backends. This entry point is
 * backend-neutral and loads no driver: the in-memory backend is here, each
 * other backend is its own subpath (`conclave/lock/conclave`, `/redis`,
 * `/redlock`, `/postgres`, `/etcd`, `/zookeeper`), and only that subpath
 * loads its driver (an optional peer dependency).
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
export { MissingPeerDependencyError } from "./optional-driver.js";
export { Election, ReadWriteLock, Semaphore } from "./primitives.js";
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
