import { ConclaveError } from "../../errors.js";

/** The node was stopped (or failed) while the request was pending. */
export class NodeStoppedError extends ConclaveError {
  constructor(reason = "the raft node is stopped") {
    super("NODE_STOPPED", reason);
  }
}

/** A request did not complete in time; for a proposal, it may still take effect. */
export class RaftTimeoutError extends ConclaveError {
  constructor(what: string, timeoutMs: number) {
    super(
      "TIMEOUT",
      `${what} did not complete within ${timeoutMs} ms; it may or may not take effect`,
    );
  }
}

/** The proposal's fate is unknown: the log moved past it through a snapshot. */
export class ProposalOutcomeUnknownError extends ConclaveError {
  constructor(index: number) {
    super(
      "OUTCOME_UNKNOWN",
      `the proposal at index ${index} was covered by a snapshot before it was seen applied; it may or may not have taken effect`,
    );
  }
}

/** The request was cancelled through its AbortSignal. */
export class RaftAbortedError extends ConclaveError {
  constructor(what: string, options?: ErrorOptions) {
    super("ABORTED", `${what} was aborted`, options);
  }
}

/** Storage failed or the core found a broken invariant: the node stopped to protect the data. */
export class NodeFailedError extends ConclaveError {
  constructor(message: string, options?: ErrorOptions) {
    super("NODE_FAILED", message, options);
  }
}

/** A snapshot the node was writing was abandoned: it is stopping, or a leader's newer one arrived. */
export class SnapshotAbortedError extends ConclaveError {
  constructor() {
    super("SNAPSHOT_ABORTED", "the snapshot being written was abandoned");
  }
}
