import { ConclaveError } from "../errors.js";

/**
 * The root of every error the client throws. `code` is the server's error
 * code when a server answered (`NOT_LEADER`, `KV_COMPACTED`, ...) or a
 * client-side code (`DEADLINE_EXCEEDED`, `UNAVAILABLE`, ...); `status` is the
 * HTTP status, undefined when no server answered.
 */
export class ClientError extends ConclaveError {
  readonly status: number | undefined;
  constructor(code: string, message: string, status?: number, options?: ErrorOptions) {
    super(code, message, options);
    this.status = status;
  }
}

/** A follower refused a leader-only call; the client follows `leaderUrl` before giving up. */
export class NotLeaderError extends ClientError {
  /** The leader's node id, undefined when the server knew none. */
  readonly leader: number | undefined;
  readonly leaderUrl: string | undefined;
  constructor(message: string, leader: number | undefined, leaderUrl: string | undefined) {
    super("NOT_LEADER", message, 421);
    this.leader = leader;
    this.leaderUrl = leaderUrl;
  }
}

/** The revision asked for (a read or a watch start) is at or below the compaction point. */
export class CompactedError extends ClientError {
  readonly compactRevision: number;
  constructor(message: string, compactRevision: number, status?: number) {
    super("KV_COMPACTED", message, status);
    this.compactRevision = compactRevision;
  }
}

export class LeaseNotFoundError extends ClientError {
  constructor(message: string, status?: number) {
    super("KV_LEASE_NOT_FOUND", message, status);
  }
}

/**
 * The `idempotency-key` sent with a write was already used for a different
 * request; the server applied nothing. The SDK draws a fresh key per call, so
 * this means a caller-supplied key was reused.
 */
export class IdempotencyKeyReusedError extends ClientError {
  constructor(message: string, status?: number) {
    super("IDEMPOTENCY_KEY_REUSED", message, status);
  }
}

/**
 * A write that takes space was refused: the cluster's NOSPACE alarm is raised
 * or the write would pass the backend quota. Reads, deletes and compaction
 * still work; compact, then disarm the alarm (ConclaveClient.disarmAlarm).
 */
export class NoSpaceError extends ClientError {
  constructor(message: string, status?: number) {
    super("KV_NOSPACE", message, status);
  }
}

/** The call's `timeoutMs` passed. For a write, it may or may not have taken effect. */
export class DeadlineExceededError extends ClientError {
  constructor(timeoutMs: number) {
    super("DEADLINE_EXCEEDED", `the call did not complete within ${timeoutMs} ms`);
  }
}

/** The caller's AbortSignal fired. */
export class AbortedError extends ClientError {
  constructor(reason: unknown) {
    super("ABORTED", "the call was aborted", undefined, { cause: reason });
  }
}

/** No endpoint could serve the call before its deadline; `cause` is the last failure. */
export class UnavailableError extends ClientError {
  constructor(message: string, cause?: unknown) {
    super("UNAVAILABLE", message, undefined, { cause });
  }
}

/**
 * A write was sent but its answer was lost (connection reset, server gone) and
 * the retry policy did not allow sending it again: it may or may not have
 * taken effect.
 */
export class OutcomeUnknownError extends ClientError {
  constructor(message: string, status?: number, cause?: unknown) {
    super("OUTCOME_UNKNOWN", message, status, { cause });
  }
}

/** A server answered something that is not the API's shape. */
export class BadResponseError extends ClientError {
  constructor(message: string, status?: number) {
    super("BAD_RESPONSE", message, status);
  }
}

/** The client, or the lease or watch the call belongs to, was closed. */
export class ClientClosedError extends ClientError {
  constructor(what = "client") {
    super("CLIENT_CLOSED", `the ${what} is closed`);
  }
}

/** A kept-alive lease may have expired: a keepalive found it gone, or none succeeded in time. */
export class LeaseLostError extends ClientError {
  readonly leaseId: number;
  constructor(leaseId: number, message: string, options?: ErrorOptions) {
    super("LEASE_LOST", message, undefined, options);
    this.leaseId = leaseId;
  }
}

/**
 * A member add, promote or remove was refused because it would leave fewer
 * connected voters than a quorum; the message names the numbers. Add the
 * member as a learner, or repair or remove unreachable voters first.
 */
export class UnsafeReconfigurationError extends ClientError {
  constructor(message: string, status?: number) {
    super("UNSAFE_RECONFIGURATION", message, status);
  }
}

/** A promote named a learner the leader does not hear from, or one not yet caught up: retry later. */
export class LearnerNotReadyError extends ClientError {
  constructor(message: string, status?: number) {
    super("LEARNER_NOT_READY", message, status);
  }
}

/** Auth is enabled and the call carried neither a token nor a client certificate. */
export class AuthRequiredError extends ClientError {
  constructor(message: string, status?: number) {
    super("AUTH_REQUIRED", message, status);
  }
}

/**
 * The token was refused: bad signature, expired, or issued before a change to
 * its user. A client with a username and password has already authenticated
 * again once before this reaches the caller.
 */
export class InvalidAuthTokenError extends ClientError {
  constructor(message: string, status?: number) {
    super("INVALID_AUTH_TOKEN", message, status);
  }
}

/** Wrong user name or password. */
export class AuthFailedError extends ClientError {
  constructor(message: string, status?: number) {
    super("AUTH_FAILED", message, status);
  }
}

/** The authenticated user holds no role that allows this call on these keys. */
export class PermissionDeniedError extends ClientError {
  constructor(message: string, status?: number) {
    super("PERMISSION_DENIED", message, status);
  }
}

/**
 * The server refused to check a password now: this client host or user name
 * failed to authenticate too often, or too many checks are running. Nothing
 * was checked. `retryAfterMs` is the server's `retry-after`, undefined when it
 * sent none; a client with a password sends no authentication before then and
 * answers its calls with this error meanwhile.
 */
export class TooManyAuthRequestsError extends ClientError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, status?: number, retryAfterMs?: number) {
    super("TOO_MANY_AUTH_REQUESTS", message, status);
    this.retryAfterMs = retryAfterMs;
  }
}

/** An error body as the server sends it. */
export interface ErrorBodyJson {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly leader?: unknown;
  readonly leaderUrl?: unknown;
  readonly compact_revision?: unknown;
}

/** Turns a server's `{ code, message, ... }` (a JSON reply or a watch error event) into its class. */
export function errorFromServer(
  body: ErrorBodyJson,
  status: number | undefined,
  retryAfter?: string,
): ClientError {
  const code = typeof body.code === "string" ? body.code : "UNKNOWN";
  const message =
    typeof body.message === "string" ? body.message : `server answered ${status ?? "an error"}`;
  switch (code) {
    case "NOT_LEADER":
      return new NotLeaderError(
        message,
        typeof body.leader === "number" ? body.leader : undefined,
        typeof body.leaderUrl === "string" ? body.leaderUrl : undefined,
      );
    case "KV_COMPACTED":
      return new CompactedError(message, compactRevisionOf(body, message), status);
    case "KV_LEASE_NOT_FOUND":
      return new LeaseNotFoundError(message, status);
    case "IDEMPOTENCY_KEY_REUSED":
      return new IdempotencyKeyReusedError(message, status);
    case "KV_NOSPACE":
      return new NoSpaceError(message, status);
    case "OUTCOME_UNKNOWN":
      return new OutcomeUnknownError(message, status);
    case "UNSAFE_RECONFIGURATION":
      return new UnsafeReconfigurationError(message, status);
    case "LEARNER_NOT_READY":
      return new LearnerNotReadyError(message, status);
    case "AUTH_REQUIRED":
      return new AuthRequiredError(message, status);
    case "INVALID_AUTH_TOKEN":
      return new InvalidAuthTokenError(message, status);
    case "AUTH_FAILED":
      return new AuthFailedError(message, status);
    case "PERMISSION_DENIED":
      return new PermissionDeniedError(message, status);
    case "TOO_MANY_AUTH_REQUESTS":
      return new TooManyAuthRequestsError(message, status, retryAfterMsOf(retryAfter));
    default:
      return new ClientError(code, message, status);
  }
}

/** Watch errors carry `compact_revision`; a range's JSON error names it only in its message. */
function compactRevisionOf(body: ErrorBodyJson, message: string): number {
  const fromField = Number(body.compact_revision ?? Number.NaN);
  if (Number.isSafeInteger(fromField)) return fromField;
  const fromMessage = Number(/compaction point is (\d+)/.exec(message)?.[1] ?? Number.NaN);
  return Number.isSafeInteger(fromMessage) ? fromMessage : 0;
}

/** `retry-after` in delay-seconds (the only form the server sends); anything else is ignored. */
function retryAfterMsOf(header: string | undefined): number | undefined {
  if (header === undefined || !/^\d{1,9}$/.test(header.trim())) return undefined;
  return Number(header.trim()) * 1000;
}
