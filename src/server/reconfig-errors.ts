import { HttpApiError } from "./errors.js";

/** The numbers a strict reconfiguration check decided on. */
export interface QuorumCount {
  /** Voters in the configuration the change would make. */
  readonly voters: number;
  /** Of those, the ones the leader heard from within an election timeout (itself included). */
  readonly connected: number;
  /** Voters that must agree in that configuration. */
  readonly quorum: number;
}

/**
 * A membership change would leave fewer connected voters than a quorum of the
 * new configuration: the cluster could no longer elect a leader or commit, and
 * only an offline restore would bring it back (etcd's strict reconfig check).
 */
export class UnsafeReconfigurationError extends HttpApiError implements QuorumCount {
  readonly voters: number;
  readonly connected: number;
  readonly quorum: number;
  constructor(what: string, count: QuorumCount, hint: string) {
    super(
      409,
      "UNSAFE_RECONFIGURATION",
      `${what} refused: it would leave ${count.connected} connected of ${count.voters} voters, ` +
        `fewer than the quorum of ${count.quorum}; ${hint}`,
    );
    this.voters = count.voters;
    this.connected = count.connected;
    this.quorum = count.quorum;
  }
}

/** member/promote named a learner that is unreachable or too far behind the leader to vote yet. */
export class LearnerNotReadyError extends HttpApiError {
  readonly matchIndex: number;
  readonly requiredIndex: number;
  readonly connected: boolean;
  constructor(
    id: number,
    progress: { matchIndex: number; requiredIndex: number; connected: boolean },
  ) {
    super(
      412,
      "LEARNER_NOT_READY",
      progress.connected
        ? `learner ${id} is not ready to vote: it holds the log up to index ${progress.matchIndex}, ` +
            `and needs ${progress.requiredIndex} (90% of the leader's commit index); retry once it has caught up`
        : `learner ${id} is not ready to vote: the leader has not heard from it within an election timeout; ` +
            "start it (with --join) and retry once it has caught up",
    );
    this.matchIndex = progress.matchIndex;
    this.requiredIndex = progress.requiredIndex;
    this.connected = progress.connected;
  }
}

/** member/add of a learner while the configuration already holds the most learners allowed. */
export class TooManyLearnersError extends HttpApiError {
  readonly learners: number;
  readonly maxLearners: number;
  constructor(learners: number, maxLearners: number) {
    super(
      409,
      "TOO_MANY_LEARNERS",
      `member add refused: the cluster already holds ${learners} of at most ${maxLearners} ` +
        "learners; promote or remove one first",
    );
    this.learners = learners;
    this.maxLearners = maxLearners;
  }
}
