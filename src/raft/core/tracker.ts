import { ascending, sortSmall } from "../../small-sort.js";
import { Progress } from "./progress.js";
import type { JointVoters } from "./quorum.js";
import { jointCommitted, jointVoteResult, VoteResult } from "./quorum.js";
import type { ConfState, NodeId } from "./types.js";

/** A (possibly joint) cluster configuration, as mutable sets. */
export interface TrackerConfig {
  incoming: Set<NodeId>;
  outgoing: Set<NodeId>;
  learners: Set<NodeId>;
  learnersNext: Set<NodeId>;
  autoLeave: boolean;
}

export function emptyTrackerConfig(): TrackerConfig {
  return {
    incoming: new Set(),
    outgoing: new Set(),
    learners: new Set(),
    learnersNext: new Set(),
    autoLeave: false,
  };
}

export function cloneTrackerConfig(c: TrackerConfig): TrackerConfig {
  return {
    incoming: new Set(c.incoming),
    outgoing: new Set(c.outgoing),
    learners: new Set(c.learners),
    learnersNext: new Set(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

const sorted = (s: ReadonlySet<NodeId>): NodeId[] => sortSmall([...s], ascending);

export function toConfState(c: TrackerConfig): ConfState {
  return {
    voters: sorted(c.incoming),
    votersOutgoing: sorted(c.outgoing),
    learners: sorted(c.learners),
    learnersNext: sorted(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

export function isJoint(c: TrackerConfig): boolean {
  return c.outgoing.size > 0;
}

/** Tracks the configuration, each peer's progress and the votes of an election. */
export class ProgressTracker {
  config: TrackerConfig = emptyTrackerConfig();
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();

  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes: number,
  ) {}

  get voters(): JointVoters {
    return { incoming: this.config.incoming, outgoing: this.config.outgoing };
  }

  newProgress(next: number, isLearner: boolean): Progress {
    return new Progress(next, this.maxInflight, this.maxInflightBytes, isLearner);
  }

  /** Every voter (both halves of a joint config), sorted. */
  voterIds(): NodeId[] {
    return sorted(new Set([...this.config.incoming, ...this.config.outgoing]));
  }

  /** Every peer with a progress, sorted, for deterministic iteration. */
  ids(): NodeId[] {
    return sortSmall([...this.progress.keys()], ascending);
  }

  isSingleton(): boolean {
    return this.config.incoming.size === 1 && this.config.outgoing.size === 0;
  }

  /** The largest index acknowledged by a quorum. */
  committed(): number {
    return jointCommitted(this.voters, (id) => this.progress.get(id)?.match);
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  /** Votes from servers outside the configuration count for nothing. */
  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voterIds()) {
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: jointVoteResult(this.voters, this.votes) };
  }

  /** Whether a quorum of voters has been active since the last check. */
  quorumActive(selfId: NodeId): boolean {
    const active = new Map<NodeId, boolean>();
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      active.set(id, id === selfId || pr.recentActive);
    }
    return jointVoteResult(this.voters, active) === VoteResult.Won;
  }
}
