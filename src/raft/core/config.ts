import { InvalidArgumentError } from "../../errors.js";
import type { Random } from "./prng.js";
import type { LogStorage } from "./storage.js";
import type { NodeId } from "./types.js";

export enum ReadOnlyOption {
  /** ReadIndex confirmed by a heartbeat round to a quorum (thesis 6.4). Always safe. */
  Safe = "safe",
  /**
   * Served at the commit index without a round trip while the leader holds a
   * lease: a quorum acknowledged a heartbeat sent less than
   * `electionTicks * (1 - maxClockDriftRatio) - 1` ticks ago. Each of those
   * followers refuses votes for an election timeout after hearing from the
   * leader, so no other leader can exist before the lease ends. Assumes tick
   * rates differ between nodes by less than `maxClockDriftRatio` and that a
   * process pause is accounted for by catching up missed ticks (the node
   * derives ticks from a monotonic clock). Falls back to a ReadIndex round
   * when the lease is not held. Requires checkQuorum.
   */
  LeaseBased = "leaseBased",
}

export interface RaftConfig {
  readonly id: NodeId;
  readonly storage: LogStorage;
  /** Seeded randomness for election timeouts. */
  readonly random: Random;
  /** Ticks without hearing from a leader before campaigning (randomized in [n, 2n)). */
  readonly electionTicks?: number;
  /** Ticks between leader heartbeats. */
  readonly heartbeatTicks?: number;
  /** Upper bound on entry bytes in one append message. */
  readonly maxSizePerMsgBytes?: number;
  /** Upper bound on entry bytes handed to the application in one Ready. */
  readonly maxCommittedSizePerReadyBytes?: number;
  /** Bound on the leader's uncommitted entry bytes; 0 = unbounded. */
  readonly maxUncommittedBytes?: number;
  /** Append messages in flight per follower. */
  readonly maxInflightMsgs?: number;
  /** Entry bytes in flight per follower; 0 = unbounded. */
  readonly maxInflightBytes?: number;
  /** Leader steps down when it has not heard from a quorum for an election timeout. */
  readonly checkQuorum?: boolean;
  /** Pre-vote round before disrupting the term (thesis 9.6). */
  readonly preVote?: boolean;
  readonly readOnlyOption?: ReadOnlyOption;
  /** Followers forward proposals to the leader instead of rejecting them with NotLeader. */
  readonly forwardProposals?: boolean;
  /** Bound on relative tick-rate difference between nodes, for lease-based reads. */
  readonly maxClockDriftRatio?: number;
  /**
   * Answer no vote (or pre-vote) request while this node's log is empty.
   * Where a replica's id outlives the replica (a sharded node's id is its
   * replica id in every group), a replica removed, deleted and created
   * again starts empty, with no memory of its votes: a stale leader that
   * still counts it as a voter must not win its vote. Once the current
   * leader has sent it anything, its log is newer than a stale leader's and
   * the ordinary up-to-date check refuses. Only for replicas that are added
   * as learners and promoted once caught up: an empty voter would never vote.
   */
  readonly noVotesWhenEmpty?: boolean;
}

export type ResolvedRaftConfig = Required<RaftConfig>;

export const RAFT_DEFAULTS = {
  electionTicks: 10,
  heartbeatTicks: 1,
  maxSizePerMsgBytes: 1024 * 1024,
  maxCommittedSizePerReadyBytes: 4 * 1024 * 1024,
  maxUncommittedBytes: 64 * 1024 * 1024,
  maxInflightMsgs: 256,
  maxInflightBytes: 0,
  checkQuorum: true,
  preVote: true,
  readOnlyOption: ReadOnlyOption.Safe,
  forwardProposals: false,
  maxClockDriftRatio: 0.1,
  noVotesWhenEmpty: false,
} as const;

function nonNegativeInt(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new InvalidArgumentError(`raft config: ${name} must be a non-negative integer, got ${v}`);
  }
}

export function resolveRaftConfig(c: RaftConfig): ResolvedRaftConfig {
  const r: ResolvedRaftConfig = { ...RAFT_DEFAULTS, ...c } as ResolvedRaftConfig;
  if (!Number.isSafeInteger(r.id) || r.id <= 0) {
    throw new InvalidArgumentError(`raft config: id must be a positive integer, got ${r.id}`);
  }
  for (const k of [
    "electionTicks",
    "heartbeatTicks",
    "maxSizePerMsgBytes",
    "maxCommittedSizePerReadyBytes",
    "maxUncommittedBytes",
    "maxInflightMsgs",
    "maxInflightBytes",
  ] as const) {
    nonNegativeInt(k, r[k]);
  }
  if (r.heartbeatTicks < 1)
    throw new InvalidArgumentError("raft config: heartbeatTicks must be >= 1");
  if (r.electionTicks <= r.heartbeatTicks) {
    throw new InvalidArgumentError(
      `raft config: electionTicks (${r.electionTicks}) must be greater than heartbeatTicks (${r.heartbeatTicks})`,
    );
  }
  if (r.maxInflightMsgs < 1)
    throw new InvalidArgumentError("raft config: maxInflightMsgs must be >= 1");
  if (!(r.maxClockDriftRatio >= 0 && r.maxClockDriftRatio < 0.5)) {
    throw new InvalidArgumentError(
      `raft config: maxClockDriftRatio must be in [0, 0.5), got ${r.maxClockDriftRatio}`,
    );
  }
  if (r.readOnlyOption === ReadOnlyOption.LeaseBased && !r.checkQuorum) {
    throw new InvalidArgumentError("raft config: lease-based reads require checkQuorum");
  }
  return r;
}
