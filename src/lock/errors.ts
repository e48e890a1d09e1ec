import { ConclaveError } from "../errors.js";

/**
 * Errors of `conclave/lock`. They are split so a caller can tell the three
 * kinds of failure apart without reading messages:
 *
 * - contention: {@link LockTimeoutError} (someone else held it for the whole wait),
 *   {@link LockAbortedError} (the caller gave up);
 * - expiry / ownership: {@link LockLostError}, {@link NotLockOwnerError};
 * - infrastructure: {@link BackendUnavailableError};
 * - access: {@link LockAccessDeniedError} (the backend refused these credentials);
 * - capability: {@link UnsupportedByBackendError}; lifecycle: {@link LockClientClosedError}.
 *
 * Bad arguments raise `InvalidArgumentError` from `conclave/errors`.
 */
export abstract class LockError extends ConclaveError {
  /** The lock name the failure concerns, when there is one. */
  readonly lockName: string | undefined;

  constructor(code: string, message: string, lockName?: string, options?: ErrorOptions) {
    super(code, message, options);
    this.lockName = lockName;
  }
}

/** The lock stayed held by others for the whole `waitMs`. Contention, not failure. */
export class LockTimeoutError extends LockError {
  readonly waitMs: number;

  constructor(lockName: string, waitMs: number, options?: ErrorOptions) {
    super(
      "LOCK_TIMEOUT",
      `lock "${lockName}" was not acquired within waitMs=${waitMs}`,
      lockName,
      options,
    );
    this.waitMs = waitMs;
  }
}

/** The caller's AbortSignal fired while waiting; the `cause` is the signal's reason. */
export class LockAbortedError extends LockError {
  constructor(lockName: string, options?: ErrorOptions) {
    super("LOCK_ABORTED", `waiting for lock "${lockName}" was aborted`, lockName, options);
  }
}

/**
 * A held lock may no longer be held: its lease ran out, renewal failed, the
 * session ended, or the backend says another owner has it. Anything done
 * under the lock after this must be considered unprotected.
 */
export class LockLostError extends LockError {
  constructor(lockName: string, reason: string, options?: ErrorOptions) {
    super("LOCK_LOST", `lock "${lockName}" may have been lost: ${reason}`, lockName, options);
  }
}

/** release/extend/proclaim was called by someone who does not hold the lock. */
export class NotLockOwnerError extends LockError {
  constructor(lockName: string, operation: string, options?: ErrorOptions) {
    super(
      "NOT_LOCK_OWNER",
      `cannot ${operation} lock "${lockName}": the caller is not its current owner`,
      lockName,
      options,
    );
  }
}

/** The backend (server, quorum of servers, database) could not be reached or answered with an error. */
export class BackendUnavailableError extends LockError {
  readonly backend: string;

  constructor(backend: string, detail: string, lockName?: string, options?: ErrorOptions) {
    super(
      "BACKEND_UNAVAILABLE",
      `lock backend ${backend} is unavailable: ${detail}`,
      lockName,
      options,
    );
    this.backend = backend;
  }
}

/**
 * The backend refused this client access: no credentials, wrong ones, a
 * token it no longer accepts, or a user without permission on the lock's
 * keys. `serverCode` is the backend's own code (`PERMISSION_DENIED`,
 * `AUTH_REQUIRED`, `AUTH_FAILED`, `INVALID_AUTH_TOKEN`). Waiting does not
 * help, so the lock client does not retry it: fix the credentials or the
 * user's roles.
 */
export class LockAccessDeniedError extends LockError {
  readonly backend: string;
  readonly serverCode: string;

  constructor(
    backend: string,
    serverCode: string,
    detail: string,
    lockName?: string,
    options?: ErrorOptions,
  ) {
    const what = lockName === undefined ? "" : ` to lock "${lockName}"`;
    super(
      "LOCK_ACCESS_DENIED",
      `lock backend ${backend} refused access${what}: ${detail} (${serverCode})`,
      lockName,
      options,
    );
    this.backend = backend;
    this.serverCode = serverCode;
  }
}

/** The backend cannot offer this primitive or option (e.g. a semaphore over Redlock). */
export class UnsupportedByBackendError extends LockError {
  readonly backend: string;
  readonly feature: string;

  constructor(backend: string, feature: string, why: string) {
    super("UNSUPPORTED_BY_BACKEND", `lock backend ${backend} does not support ${feature}: ${why}`);
    this.backend = backend;
    this.feature = feature;
  }
}

/** The client (or backend) was closed; no new acquisitions are accepted. */
export class LockClientClosedError extends LockError {
  constructor(what: string) {
    super("LOCK_CLIENT_CLOSED", `${what} is closed`);
  }
}
