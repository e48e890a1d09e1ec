/**
 * Many Raft groups in one process: each replica is the shipped stack of an
 * unsharded member (RaftNode with a KvStore as its state machine, the
 * KvReplica envelope, the leader's lease expiry loop), on its own storage,
 * sharing the process's peer transport through a GroupMux view.
 */
import { KvReplica, type KvResult, type KvStore, type LeaseExpiry } from "../kv/index.js";
import { invariant } from "../raft/core/errors.js";
import type { NodeId } from "../raft/core/types.js";
import { Role } from "../raft/core/types.js";
import type { NodeEnv } from "../raft/node/env.js";
import { RaftNode, type RaftNodeObserver } from "../raft/node/index.js";
import type { NodeStorage, StateMachine } from "../raft/node/ports.js";
import type { GroupMux } from "../raft/transport/index.js";
import type { GroupId, GroupReport } from "./types.js";

/** Where a node keeps each group's log and key space. */
export interface GroupResources {
  /** The group's log storage on this node, holding what an earlier run left. */
  openStorage(group: GroupId): Promise<NodeStorage>;
  /** The group's key space (its backend may hold an earlier run's state). */
  openStore(group: GroupId): KvStore;
  /** Closes what openStorage and openStore opened; called after the replica stopped. */
  release(group: GroupId): Promise<void>;
  /** Deletes the group's data on this node; called after release. */
  destroy(group: GroupId): Promise<void>;
  /** Groups with data on this node, reopened at start. */
  existing(): Promise<GroupId[]>;
}

export interface GroupTiming {
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly requestTimeoutMs: number;
  /** Snapshot after this many applied entries (0: never). */
  readonly snapshotEveryEntries: number;
  readonly leaseCheckMs: number;
  /**
   * Idle groups stop ticking after this many heartbeat ticks (see
   * raft/node/quiescence.ts); undefined: never. Whoever sets it must call
   * wakeWith() when a peer process goes silent.
   */
  readonly quiesceAfterTicks?: number;
}

/** Hooks for the simulator's checks and for metrics, per group. */
export interface GroupObserver {
  /** Wraps the group's state machine (the simulator records applied entries). */
  stateMachine?(group: GroupId, inner: StateMachine<KvResult>): StateMachine<KvResult>;
  observer?(group: GroupId): RaftNodeObserver;
  fatal(group: GroupId, err: Error): void;
}

export interface ShardHostOptions {
  readonly id: NodeId;
  readonly mux: GroupMux;
  readonly resources: GroupResources;
  readonly env: NodeEnv;
  readonly timing: GroupTiming;
  readonly observe: GroupObserver;
}

export interface GroupReplica {
  readonly group: GroupId;
  readonly node: RaftNode<KvResult>;
  readonly store: KvStore;
  readonly kv: KvReplica;
  readonly expiry: LeaseExpiry;
}

/** How a replica comes into being when its storage is empty. */
export interface OpenMode {
  /** Members and peer addresses: the founding set, or (with join) whom to accept traffic from. */
  readonly cluster: ReadonlyMap<NodeId, string>;
  /** Wait to be added by the group's leader (a learner) instead of founding the group. */
  readonly join: boolean;
}

export class ShardHost {
  private readonly replicas = new Map<GroupId, GroupReplica>();
  /** Groups being opened or closed: no second open or close starts meanwhile. */
  private readonly busy = new Map<GroupId, Promise<unknown>>();
  private stopped = false;

  constructor(private readonly opts: ShardHostOptions) {}

  get id(): NodeId {
    return this.opts.id;
  }

  get(group: GroupId): GroupReplica | undefined {
    return this.replicas.get(group);
  }

  groups(): GroupId[] {
    return [...this.replicas.keys()].sort((a, b) => a - b);
  }

  /** Whether the group is hosted or being opened or closed here. */
  has(group: GroupId): boolean {
    return this.replicas.has(group) || this.busy.has(group);
  }

  /** Reopens every group with data on this node (their logs say who the members are). */
  async reopen(): Promise<void> {
    const groups = await this.opts.resources.existing();
    await Promise.all(groups.map((g) => this.open(g, { cluster: new Map(), join: true })));
  }

  /** Opens the group's replica here (no-op if hosted or already opening). */
  open(group: GroupId, mode: OpenMode): Promise<GroupReplica | undefined> {
    const existing = this.replicas.get(group);
    if (existing !== undefined) return Promise.resolve(existing);
    if (this.busy.has(group) || this.stopped) return Promise.resolve(undefined);
    const opening = this.start(group, mode).finally(() => this.busy.delete(group));
    this.busy.set(group, opening);
    return opening;
  }

  private async start(group: GroupId, mode: OpenMode): Promise<GroupReplica> {
    const { resources, timing, observe, env, mux } = this.opts;
    const storage = await resources.openStorage(group);
    const store = resources.openStore(group);
    const inner: StateMachine<KvResult> = store;
    const stateMachine = observe.stateMachine?.(group, inner) ?? inner;
    const node = await RaftNode.start<KvResult>({
      id: this.opts.id,
      storage,
      transport: mux.view(group),
      stateMachine,
      initialCluster: mode.cluster,
      join: mode.join,
      heartbeatMs: timing.heartbeatMs,
      electionMs: timing.electionMs,
      requestTimeoutMs: timing.requestTimeoutMs,
      snapshotEveryEntries: timing.snapshotEveryEntries,
      snapshotEveryBytes: 0,
      ...(timing.quiesceAfterTicks !== undefined && {
        quiesceAfterTicks: timing.quiesceAfterTicks,
      }),
      // This node's id is its replica id in every group, also after a replica
      // was deleted and created again: until it holds a log, it must not vote.
      raft: { noVotesWhenEmpty: true },
      env,
      onFatal: (err) => observe.fatal(group, err),
      ...(observe.observer !== undefined && { observer: observe.observer(group) }),
    });
    const kv = new KvReplica(node, store, timing.requestTimeoutMs);
    const expiry = kv.leaseExpiry({ clock: env.clock, checkIntervalMs: timing.leaseCheckMs });
    expiry.start();
    const replica = { group, node, store, kv, expiry };
    if (this.stopped) {
      await this.shut(replica);
      throw new Error(`shard host stopped while group ${group} was opening`);
    }
    this.replicas.set(group, replica);
    return replica;
  }

  /** Stops the group's replica here and, with `destroy`, deletes its data. */
  async close(group: GroupId, destroy: boolean): Promise<void> {
    const replica = this.replicas.get(group);
    if (replica === undefined || this.busy.has(group)) return;
    this.replicas.delete(group);
    const closing = (async () => {
      await this.shut(replica);
      if (destroy) await this.opts.resources.destroy(group);
    })().finally(() => this.busy.delete(group));
    this.busy.set(group, closing);
    await closing;
  }

  private async shut(replica: GroupReplica): Promise<void> {
    replica.expiry.stop();
    await replica.node.stop();
    await this.opts.resources.release(replica.group);
  }

  /**
   * Wakes every quiescent replica whose group has `peer` as a member (its
   * process went silent: a quiet group would not notice); returns how many.
   */
  wakeWith(peer: NodeId): number {
    let woken = 0;
    for (const replica of this.replicas.values()) {
      const node = replica.node;
      if (!node.isQuiet) continue;
      const c = node.raftStatus().confState;
      const member = [c.voters, c.votersOutgoing, c.learners, c.learnersNext].some((ids) =>
        ids.includes(peer),
      );
      if (!member) continue;
      node.wake();
      woken++;
    }
    return woken;
  }

  /** How many hosted replicas are quiescent. */
  quietCount(): number {
    let n = 0;
    for (const replica of this.replicas.values()) if (replica.node.isQuiet) n++;
    return n;
  }

  /** What each hosted replica knows, for the controller. */
  reports(): GroupReport[] {
    const out: GroupReport[] = [];
    for (const group of this.groups()) {
      const replica = this.replicas.get(group);
      invariant(replica !== undefined, "a listed group has a replica");
      const s = replica.node.status();
      const leader = s.role === Role.Leader;
      out.push({
        group,
        term: s.term,
        leader: s.leader,
        voters: [...s.confState.voters],
        learners: [...s.confState.learners, ...s.confState.learnersNext],
        outgoing: [...s.confState.votersOutgoing],
        commit: s.commitIndex,
        applied: s.appliedIndex,
        match: leader ? s.peers.map((p) => [p.id, p.matchIndex] as const) : [],
      });
    }
    return out;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.busy.values()]);
    const all = [...this.replicas.values()];
    this.replicas.clear();
    await Promise.all(all.map((r) => this.shut(r)));
  }
}
