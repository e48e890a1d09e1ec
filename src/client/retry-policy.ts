/**
 * When the client may send a call again. This is the one place that decides
 * it; everything else only reports what happened to an attempt.
 *
 * Reads (and calls that change nothing when repeated, like a lease keepalive)
 * are always safe to repeat. A write is repeated only when it certainly did
 * not reach the log: the request never left (connection refused), a follower
 * refused it (421 NOT_LEADER), or the node refused it before proposing (503
 * NOT_READY, PROPOSAL_DROPPED, TOO_MANY_UNCOMMITTED). Once servers dedupe
 * writes by their `idempotency-key` (the same key is sent on every retry of a
 * write), `serverDedupesWrites` widens writes to the read rule.
 */

/** How repeating a call affects the key space. */
export type CallKind =
  /** Changes nothing: range, lease time-to-live, member list, status. */
  | "read"
  /** Repeating it has the effect of doing it once: lease keepalive. */
  | "idempotent"
  /** Repeating it may apply it twice: put, delete, txn, compaction, lease grant/revoke, membership. */
  | "write";

/** What went wrong with one attempt, as far as the client can tell. */
export type AttemptFailure =
  /** The request never left this process: connection refused, no route, name not resolved. */
  | { readonly kind: "not-sent" }
  /** The request may have reached the server; no answer came back. */
  | { readonly kind: "lost" }
  /** A server answered with an error status and code. */
  | { readonly kind: "answered"; readonly status: number; readonly code: string };

/** 503 codes a node answers before it proposes anything. */
const REFUSED_BEFORE_PROPOSING = new Set(["NOT_READY", "PROPOSAL_DROPPED", "TOO_MANY_UNCOMMITTED"]);

/** Statuses after which another attempt (maybe on another endpoint) can succeed. */
function isTransient(failure: AttemptFailure): boolean {
  if (failure.kind !== "answered") return true;
  // 421: another node is the leader. 503: this node cannot serve now. 504: it ran out of time.
  return failure.status === 421 || failure.status === 503 || failure.status === 504;
}

/** Whether the call may be sent again after `failure`. */
export function mayRetry(
  kind: CallKind,
  failure: AttemptFailure,
  serverDedupesWrites: boolean,
): boolean {
  if (!isTransient(failure)) return false;
  if (kind !== "write" || serverDedupesWrites) return true;
  switch (failure.kind) {
    case "not-sent":
      return true;
    case "lost":
      return false;
    case "answered":
      return failure.status === 421 || REFUSED_BEFORE_PROPOSING.has(failure.code);
  }
}
