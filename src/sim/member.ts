import { KvReplica, type KvResult, KvStore, type LeaseExpiry } from "../kv/index.js";
import type { Xoshiro128 } from "../raft/core/prng.js";
import { type Entry, EntryType, type NodeId } from "../raft/core/types.js";
import { RaftNode, type RaftNodeOptions, type SnapshotKind } from "../raft/node/index.js";
import type { StateMachine } from "../raft/node/ports.js";
import type { SimDisk } from "./disk.js";
import type { SimNetwork } from "./network.js";
import { SimProcess } from "./process.js";
import type { Scheduler } from "./scheduler.js";

/** How every member of a simulated cluster is configured, as `conclave serve` would configure it. */
export interface MemberConfig {
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly requestTimeoutMs: number;
  /** Take a snapshot every this many applied entries (0 = never). */
  readonly snapshotEveryEntries: number;
  readonly leaseCheckMs: number;
  /** The leader's lease checkpoint interval (LeaseExpiry's checkpointIntervalMs). */
  readonly leaseCheckpointMs?: number;
  readonly raft: NonNullable<RaftNodeOptions<KvResult>["raft"]>;
}

/** What the cluster learns from a member as it runs, for the safety checks. */
export interface MemberHooks {
  applied(member: SimMember, entry: Entry): void;
  leaderChange(member: SimMember, term: number, leader: NodeId): void;
  persisted(member: SimMember): void;
  leaseRevoked(member: SimMember, id: number): void;
  snapshot(member: SimMember, kind: SnapshotKind): void;
  /** The node stopped on an error (a broken invariant, storage it could not read): a failed run. */
  fatal(member: SimMember, err: Error): void;
}

/** What runs in one incarnation of the member's process. */
interface Incarnation {
  readonly process: SimProcess;
  readonly node: RaftNode<KvResult>;
  readonly store: KvStore;
  readonly replica: KvReplica;
  readonly expiry: LeaseExpiry;
}

/**
 * One simulated server: its disk, which survives crashes, and the shipped
 * stack of the incarnation running now — RaftNode with KvStore as its state
 * machine, the KvReplica request envelope and the leader's lease expiry
 * loop — on the process's virtual clock, the simulated disk and a
 * MemoryTransport on the simulated network.
 */
export class SimMember {
  /** Bumped on every start and crash: events meant for an older incarnation are ignored. */
  epoch = 0;
  private current: Incarnation | undefined;
  private starting: SimProcess | undefined;

  constructor(
    readonly id: NodeId,
    readonly address: string,
    readonly disk: SimDisk,
    /** This server's clock rate (skew), kept across restarts. */
    private readonly clockRate: number,
    private readonly scheduler: Scheduler,
    private readonly network: SimNetwork,
    private readonly random: Xoshiro128,
    private readonly config: MemberConfig,
    private readonly hooks: MemberHooks,
  ) {}

  /** The incarnation serving now, if the process is up and its node started. */
  get up(): Incarnation | undefined {
    return this.current?.process.alive ? this.current : undefined;
  }

  /** Whether a process of this member exists (started or starting). */
  get alive(): boolean {
    return this.current !== undefined || this.starting !== undefined;
  }

  get process(): SimProcess | undefined {
    return this.current?.process ?? this.starting;
  }

  /**
   * Starts a new process on the disk. `cluster` is the founding membership
   * (used only on an empty disk), or with `join` the members to accept
   * traffic from until the log says who the members are.
   */
  start(cluster: ReadonlyMap<NodeId, string>, join: boolean): void {
    if (this.alive) return;
    this.epoch++;
    const epoch = this.epoch;
    const process = new SimProcess(this.scheduler, this.clockRate, this.random.fork());
    this.starting = process;
    const store = new KvStore();
    const observed = this.observe(store, epoch);
    const seeds = this.random.fork();
    const storage = this.disk.mount(process, () => {
      if (this.epoch === epoch) this.hooks.persisted(this);
    });
    void RaftNode.start<KvResult>({
      id: this.id,
      storage,
      transport: this.network.memory.transport(this.id),
      stateMachine: observed,
      initialCluster: cluster,
      join,
      heartbeatMs: this.config.heartbeatMs,
      electionMs: this.config.electionMs,
      requestTimeoutMs: this.config.requestTimeoutMs,
      snapshotEveryEntries: this.config.snapshotEveryEntries,
      snapshotEveryBytes: 0,
      raft: this.config.raft,
      env: { clock: process.clock, seed: () => seeds.nextUint32() },
      onFatal: (err) => {
        if (this.epoch === epoch) this.hooks.fatal(this, err);
      },
      observer: {
        onLeaderChange: (term, leader) => {
          if (this.epoch === epoch) this.hooks.leaderChange(this, term, leader);
        },
        onSnapshot: (kind) => {
          if (this.epoch === epoch) this.hooks.snapshot(this, kind);
        },
      },
    }).then(
      (node) => {
        if (this.epoch !== epoch || !process.alive) return;
        const replica = new KvReplica(node, store, this.config.requestTimeoutMs);
        const expiry = replica.leaseExpiry({
          clock: process.clock,
          checkIntervalMs: this.config.leaseCheckMs,
          ...(this.config.leaseCheckpointMs !== undefined && {
            checkpointIntervalMs: this.config.leaseCheckpointMs,
          }),
        });
        expiry.start();
        store.onLeaseApplied((change) => {
          if (change.kind === "revoke" && this.epoch === epoch)
            this.hooks.leaseRevoked(this, change.id);
        });
        this.starting = undefined;
        this.current = { process, node, store, replica, expiry };
      },
      (err: Error) => {
        if (this.epoch === epoch) this.hooks.fatal(this, err);
      },
    );
  }

  /** kill -9: the process stops where it is; what its disk had not made durable is lost. */
  crash(): void {
    const process = this.process;
    if (process === undefined) return;
    this.epoch++;
    process.kill();
    this.current?.expiry.stop();
    void this.network.memory.node(this.id)?.stop();
    this.disk.crash();
    this.current = undefined;
    this.starting = undefined;
  }

  /** Reports every applied entry of this incarnation to the safety checks. */
  private observe(store: KvStore, epoch: number): StateMachine<KvResult> {
    return {
      apply: (entry) => {
        const result = store.apply(entry);
        if (this.epoch === epoch) {
          this.hooks.applied(this, { ...entry, type: EntryType.Normal });
        }
        return result;
      },
      snapshot: () => store.snapshot(),
      restore: (data) => store.restore(data),
    };
  }
}
