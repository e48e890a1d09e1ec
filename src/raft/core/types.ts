/**
 * Wire-level and persisted shapes of the Raft protocol. Plain data only, so a
 * transport can encode them with any codec and storage can persist them.
 *
 * Node ids are positive integers; 0 means "none" (no vote, no known leader).
 */

export type NodeId = number;
export const NO_NODE: NodeId = 0;

export enum EntryType {
  Normal = 0,
  /** data is an encoded ConfChange (see confchange-codec.ts). */
  ConfChange = 1,
}

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be on stable storage before any message depending on it leaves. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NO_NODE, commit: 0 };

/**
 * A cluster configuration. During joint consensus `votersOutgoing` is the old
 * voter set and decisions need a majority of both (thesis 4.3).
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly votersOutgoing: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** Voters of the outgoing config that become learners when the joint config is left. */
  readonly learnersNext: readonly NodeId[];
  /** Leave the joint config automatically once it is committed. */
  readonly autoLeave: boolean;
}

export const EMPTY_CONF_STATE: ConfState = {
  voters: [],
  votersOutgoing: [],
  learners: [],
  learnersNext: [],
  autoLeave: false,
};

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  /** Opaque application state. The networked node streams large ones separately. */
  readonly data: Uint8Array;
}

export enum ConfChangeType {
  AddNode = "addNode",
  AddLearner = "addLearner",
  RemoveNode = "removeNode",
}

export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

export enum ConfChangeTransition {
  /** Single-step change if possible, else joint consensus left automatically. */
  Auto = "auto",
  /** Always joint consensus, left automatically once committed. */
  JointImplicit = "jointImplicit",
  /** Always joint consensus, left only by an explicit empty change. */
  JointExplicit = "jointExplicit",
}

/** A membership change. An empty `changes` list leaves an explicit joint config. */
export interface ConfChange {
  readonly transition: ConfChangeTransition;
  readonly changes: readonly ConfChangeSingle[];
  readonly context?: Uint8Array;
}

export enum MessageType {
  /** local: start an election. */
  Hup = "hup",
  /** local: the leader should broadcast heartbeats. */
  Beat = "beat",
  Prop = "prop",
  App = "app",
  AppResp = "appResp",
  Vote = "vote",
  VoteResp = "voteResp",
  PreVote = "preVote",
  PreVoteResp = "preVoteResp",
  Snap = "snap",
  Heartbeat = "heartbeat",
  HeartbeatResp = "heartbeatResp",
  /** local: the transport could not reach a peer. */
  Unreachable = "unreachable",
  /** local: the outcome of sending a snapshot. */
  SnapStatus = "snapStatus",
  /** local: the leader should verify it still hears from a quorum. */
  CheckQuorum = "checkQuorum",
  TransferLeader = "transferLeader",
  TimeoutNow = "timeoutNow",
  ReadIndex = "readIndex",
  ReadIndexResp = "readIndexResp",
}

/**
 * The context of a leader's heartbeat round that says its group is idle:
 * every peer holds and has committed the whole log, nothing is pending. A
 * node may stop ticking on it (see RaftNode's quiesce option). It never
 * matches a ReadIndex context, so an answer to it confirms no read.
 */
export const QUIESCE_CONTEXT = "\u0000quiesce";

export interface Message {
  readonly type: MessageType;
  readonly to: NodeId;
  readonly from: NodeId;
  readonly term: number;
  /** App: term of the entry preceding `entries`. Votes: term of the candidate's last entry. */
  readonly logTerm: number;
  /** App: index preceding `entries`. AppResp: last matching index. Votes: candidate's last index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly snapshot?: Snapshot;
  readonly reject: boolean;
  /** On a rejected AppResp: the follower's best guess of where the logs may match. */
  readonly rejectHint: number;
  /** Opaque request context: ReadIndex request ids, the campaign kind of a transfer. */
  readonly context: string;
}

/** Fills the fields a message type does not use, so every message has the full shape. */
export function message(fields: Pick<Message, "type" | "to" | "from"> & Partial<Message>): Message {
  return {
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: "",
    ...fields,
  };
}

export function isLocalMessage(type: MessageType): boolean {
  return (
    type === MessageType.Hup ||
    type === MessageType.Beat ||
    type === MessageType.Unreachable ||
    type === MessageType.SnapStatus ||
    type === MessageType.CheckQuorum
  );
}

export function isResponseMessage(type: MessageType): boolean {
  return (
    type === MessageType.AppResp ||
    type === MessageType.VoteResp ||
    type === MessageType.HeartbeatResp ||
    type === MessageType.Unreachable ||
    type === MessageType.PreVoteResp
  );
}

export function voteResponseType(type: MessageType): MessageType {
  return type === MessageType.PreVote ? MessageType.PreVoteResp : MessageType.VoteResp;
}

export function entrySize(entry: Entry): number {
  // Payload plus a fixed allowance for term/index/type, so empty entries still count.
  return entry.data.byteLength + 24;
}

export function entriesSize(entries: readonly Entry[]): number {
  let total = 0;
  for (const e of entries) total += entrySize(e);
  return total;
}

export enum Role {
  Follower = "follower",
  PreCandidate = "preCandidate",
  Candidate = "candidate",
  Leader = "leader",
}

/** A linearizable read point: once `index` is applied, the read with `context` may be served. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}
