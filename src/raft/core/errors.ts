import { ConclaveError } from "../../errors.js";
import type { NodeId } from "./types.js";

/** A proposal or read reached a node that is not the leader. */
export class NotLeaderError extends ConclaveError {
  /** The leader this node last heard of, or 0 when it knows none. */
  readonly leaderHint: NodeId;
  constructor(leaderHint: NodeId, what = "proposal") {
    super(
      "NOT_LEADER",
      leaderHint === 0
        ? `${what} rejected: this node is not the leader and knows no leader`
        : `${what} rejected: this node is not the leader; the leader is node ${leaderHint}`,
    );
    this.leaderHint = leaderHint;
  }
}

/** A proposal was not accepted (leadership transfer in progress, node removed, ...). */
export class ProposalDroppedError extends ConclaveError {
  constructor(reason: string) {
    super("PROPOSAL_DROPPED", `proposal dropped: ${reason}`);
  }
}

/** The leader already holds the configured maximum of uncommitted log bytes. */
export class UncommittedLimitError extends ConclaveError {
  constructor(uncommittedBytes: number, limitBytes: number) {
    super(
      "TOO_MANY_UNCOMMITTED",
      `proposal rejected: ${uncommittedBytes} uncommitted bytes already at the leader (limit ${limitBytes})`,
    );
  }
}

/** A membership change was proposed while another one is not yet applied. */
export class ConfChangePendingError extends ConclaveError {
  constructor(detail: string) {
    super("CONF_CHANGE_PENDING", `membership change rejected: ${detail}`);
  }
}

/** A membership change that would produce an invalid configuration. */
export class InvalidConfChangeError extends ConclaveError {
  constructor(detail: string, options?: ErrorOptions) {
    super("INVALID_CONF_CHANGE", `invalid membership change: ${detail}`, options);
  }
}

/** Storage no longer holds entries at or below the requested index (compacted). */
export class LogCompactedError extends ConclaveError {
  constructor(index: number, firstIndex: number) {
    super("LOG_COMPACTED", `log index ${index} is compacted (first available index ${firstIndex})`);
  }
}

/** Storage does not hold entries that far yet. */
export class LogUnavailableError extends ConclaveError {
  constructor(index: number, lastIndex: number) {
    super("LOG_UNAVAILABLE", `log index ${index} is beyond the last index ${lastIndex}`);
  }
}

/** A snapshot is being built and cannot be handed out yet; retry later. */
export class SnapshotTemporarilyUnavailableError extends ConclaveError {
  constructor() {
    super("SNAPSHOT_TEMPORARILY_UNAVAILABLE", "snapshot temporarily unavailable");
  }
}

/**
 * An internal invariant of the protocol was violated. This is always a bug (or
 * corrupted storage); the node must stop rather than continue on wrong state.
 */
export class RaftInvariantError extends ConclaveError {
  constructor(message: string) {
    super("RAFT_INVARIANT", `raft invariant violated: ${message}`);
  }
}

export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new RaftInvariantError(typeof message === "string" ? message : message());
  }
}
