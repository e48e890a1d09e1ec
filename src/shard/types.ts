/**
 * What the sharded tier's parts say to each other: the shard map the
 * controller keeps in the meta group, each node's report of the replicas it
 * hosts, and the operators the controller hands back to shard leaders.
 *
 * A node's id is its Raft replica id in every group it hosts, so the peer
 * transport authenticates one identity per process and carries every group
 * over one connection per pair of nodes (GroupMux).
 */
import type { NodeId } from "../raft/core/types.js";
import type { GroupId } from "./keys.js";

export type { GroupId } from "./keys.js";

/** A member of the sharded cluster, as registered in the meta group. */
export interface NodeRecord {
  readonly id: NodeId;
  /** host:port of its peer transport. */
  readonly peer: string;
  /** Base URL of its client API ("" when it serves none, as in the simulator). */
  readonly client: string;
  /** Relative capacity (> 0): a node of capacity 2 is given about twice the replicas. */
  readonly capacity: number;
  /** Drained nodes keep what they hold until the controller has moved it away. */
  readonly draining: boolean;
}

/** Where a group should live: its target replica set, and a counter bumped on every change. */
export interface GroupRecord {
  readonly group: GroupId;
  readonly epoch: number;
  readonly replicas: readonly NodeId[];
}

/**
 * The controller's map as a node caches it. `revision` is the meta group's
 * key-space revision at which it was read: it only grows, so a node keeps
 * the newest map it has seen.
 */
export interface ShardMap {
  readonly revision: number;
  readonly shardCount: number;
  readonly replication: number;
  readonly nodes: readonly NodeRecord[];
  /** The meta group (0) and every shard 1..shardCount, in group order. */
  readonly groups: readonly GroupRecord[];
}

/** One replica as its node sees it, sent with every heartbeat. */
export interface GroupReport {
  readonly group: GroupId;
  readonly term: number;
  /** The leader this replica knows (0: none). */
  readonly leader: NodeId;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** Voters still in the outgoing half of a joint configuration (empty when none). */
  readonly outgoing: readonly NodeId[];
  readonly commit: number;
  readonly applied: number;
  /** On a leader: each follower's match index. */
  readonly match: readonly (readonly [NodeId, number])[];
}

/** A membership step a shard's leader carries out for the controller. */
export type Operator =
  | {
      readonly group: GroupId;
      readonly kind: "add-learner";
      readonly node: NodeId;
      readonly peer: string;
    }
  | {
      readonly group: GroupId;
      readonly kind: "promote";
      readonly node: NodeId;
      readonly peer: string;
    }
  | { readonly group: GroupId; readonly kind: "remove"; readonly node: NodeId }
  | { readonly group: GroupId; readonly kind: "transfer-leader"; readonly node: NodeId };

/** Node → controller, on the peer transport's control channel. */
export interface HeartbeatRequest {
  readonly type: "heartbeat";
  readonly seq: number;
  readonly node: Omit<NodeRecord, "draining">;
  /** The revision of the map this node holds (0: none). */
  readonly mapRevision: number;
  readonly groups: readonly GroupReport[];
}

/** Controller → node. */
export interface HeartbeatReply {
  readonly type: "heartbeat-reply";
  readonly seq: number;
  /** Sent when the node's map is older than the controller's. */
  readonly map?: ShardMap;
  readonly operators: readonly Operator[];
  /** Replicas this node may delete: the group's committed configuration no longer has it. */
  readonly destroy: readonly GroupId[];
}

/** From a node that is not the controller: where to send heartbeats instead (0: unknown). */
export interface Redirect {
  readonly type: "redirect";
  readonly seq: number;
  readonly controller: NodeId;
  readonly peer: string;
}

/** Node to node, every heartbeat: "this process is alive" (see liveness.ts). */
export interface Ping {
  readonly type: "ping";
  readonly seq: number;
}

export type ControlMessage = HeartbeatRequest | HeartbeatReply | Redirect | Ping;
