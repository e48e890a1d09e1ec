import { authErrorStatus } from "../auth/index.js";
import { ConclaveError } from "../errors.js";
import {
  CompactedError,
  FutureRevisionError,
  IdempotencyKeyReusedError,
  KeyNotFoundError,
  KvError,
  LeaseExistsError,
  LeaseNotFoundError,
  NoSpaceError,
} from "../kv/index.js";
import { NotLeaderError } from "../raft/core/index.js";
import { RaftTimeoutError } from "../raft/node/index.js";
import { HttpApiError } from "./errors.js";

/** The JSON body of every error answer. */
export interface ErrorBody {
  code: string;
  message: string;
  /** NOT_LEADER only: the leader's node id, null when none is known. */
  leader?: number | null;
  leaderUrl?: string;
}

export interface ErrorReply {
  readonly statusCode: number;
  readonly body: ErrorBody;
}

/** fastify's own request errors (parsing, validation, limits), told apart by code. */
interface FrameworkError {
  readonly code?: unknown;
  readonly statusCode?: unknown;
  readonly message?: unknown;
  readonly validation?: unknown;
}

function frameworkReply(err: FrameworkError): ErrorReply | undefined {
  const message = typeof err.message === "string" ? err.message : "bad request";
  if (err.validation !== undefined) {
    return { statusCode: 400, body: { code: "INVALID_ARGUMENT", message } };
  }
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return { statusCode: 413, body: { code: "BODY_TOO_LARGE", message } };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return { statusCode: 415, body: { code: "UNSUPPORTED_MEDIA_TYPE", message } };
  }
  const status = err.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return { statusCode: status, body: { code: "INVALID_REQUEST", message } };
  }
  return undefined;
}

/**
 * Whether an answer of this status is the server's own fault, worth an error
 * log line: a 5xx other than 503 (cannot serve now), 504 (out of time) and
 * 507 (NOSPACE), which are the cluster's state, not a bug.
 */
export function isServerFault(statusCode: number): boolean {
  return statusCode >= 500 && statusCode !== 503 && statusCode !== 504 && statusCode !== 507;
}

/** Maps anything a handler threw to a status and a `{ code, message }` body. */
export function errorReply(
  err: unknown,
  clientUrls?: { get(id: number): string | undefined },
): ErrorReply {
  if (err instanceof HttpApiError) {
    return { statusCode: err.statusCode, body: { code: err.code, message: err.message } };
  }
  if (err instanceof NotLeaderError) {
    const leader = err.leaderHint === 0 ? null : err.leaderHint;
    const body: ErrorBody = { code: err.code, message: err.message, leader };
    const url = leader === null ? undefined : clientUrls?.get(leader);
    if (url !== undefined) body.leaderUrl = url;
    return { statusCode: 421, body };
  }
  if (err instanceof ConclaveError) {
    return { statusCode: conclaveStatus(err), body: { code: err.code, message: err.message } };
  }
  if (typeof err === "object" && err !== null) {
    const reply = frameworkReply(err as FrameworkError);
    if (reply !== undefined) return reply;
  }
  return { statusCode: 500, body: { code: "INTERNAL", message: "internal server error" } };
}

function conclaveStatus(err: ConclaveError): number {
  const auth = authErrorStatus(err);
  if (auth !== undefined) return auth;
  if (err instanceof RaftTimeoutError) return 504;
  if (err instanceof LeaseNotFoundError || err instanceof KeyNotFoundError) return 404;
  if (err instanceof LeaseExistsError) return 409;
  if (err instanceof CompactedError || err instanceof FutureRevisionError) return 400;
  if (err instanceof IdempotencyKeyReusedError) return 422;
  // Insufficient Storage: not a transient 503, so clients do not retry into the alarm.
  if (err instanceof NoSpaceError) return 507;
  if (err instanceof KvError) return 400;
  if (err.code === "INVALID_ARGUMENT") return 400;
  // NODE_STOPPED, NODE_FAILED, PROPOSAL_DROPPED, TOO_MANY_UNCOMMITTED,
  // OUTCOME_UNKNOWN, ABORTED: the cluster could not serve this now.
  return 503;
}
