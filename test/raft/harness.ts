import { ManualClock } from "../../src/clock.js";
import { Xoshiro128 } from "../../src/raft/core/prng.js";
import type { RaftStatus } from "../../src/raft/core/rawnode.js";
import {
  type ConfChangeTransition,
  ConfChangeType,
  type ConfState,
  type Message,
  type NodeId,
  Role,
} from "../../src/raft/core/types.js";
import type { NodeEnv } from "../../src/raft/node/env.js";
import { type NodeStatus, RaftNode, type RaftNodeOptions } from "../../src/raft/node/node.js";
import { encodeMemberContext } from "../../src/raft/node/snapshot-codec.js";
import { MemoryStorage } from "../../src/raft/storage/memory.js";
import type { NodeStorage } from "../../src/raft/storage/node-storage.js";
import { MemoryNetwork } from "../../src/raft/transport/memory-network.js";
import type { MemoryTransport } from "../../src/raft/transport/memory-transport.js";
import { bytes, type Position, RecordingMachine } from "./recording-machine.js";
import { TappedTransport } from "./tapped-transport.js";

export type { Position } from "./recording-machine.js";
export { bytes, text } from "./recording-machine.js";

/** One core tick of every node is one heartbeat interval of its clock. */
const HEARTBEAT_MS = 100;

/** Core options, plus the few node options the scenarios vary. */
export type NetConfig = NonNullable<RaftNodeOptions<Position>["raft"]> & {
  /** Election timeout in ticks (default 10); the heartbeat is always one tick. */
  readonly electionTicks?: number;
  /** Every node snapshots after this many applied entries (default 0: never). */
  readonly snapshotEveryEntries?: number;
  /** Where the nodes keep their state (default: one MemoryStorage per node, kept across crashes). */
  readonly disks?: NodeDisks;
  /**
   * How long a leader holds an empty append (default 0 here: time moves only
   * in tick(), so a held append waits for the next one, and most checks read
   * followers right after a settle). The simulator runs the node's default.
   */
  readonly emptyAppendHoldMs?: number;
};

/** Durable storage for the net's nodes, in place of the default in-memory one. */
export interface NodeDisks {
  /** Opens the node's storage for a new run of its process, on what the last run left. */
  open(id: NodeId): Promise<NodeStorage>;
  /** The node's process died: whatever it had not synced is now lost. */
  crash(id: NodeId): void;
}

/** A promise's outcome, readable synchronously once the network has settled. */
export class Outcome<T> {
  state: "pending" | "resolved" | "rejected" = "pending";
  value: T | undefined;
  error: unknown;

  constructor(promise: Promise<T>) {
    promise.then(
      (v) => {
        this.state = "resolved";
        this.value = v;
      },
      (e: unknown) => {
        this.state = "rejected";
        this.error = e;
      },
    );
  }
}

/** Tracks a request's promise so that a rejection nobody waits for is still handled. */
export const track = <T>(promise: Promise<T>): Outcome<T> => new Outcome(promise);

/** Whether a node's process still runs, and how it failed if it stopped on its own. */
interface Life {
  alive: boolean;
  fatal: Error | undefined;
}

/** One run of a node's process, from start to crash. */
interface Incarnation {
  readonly node: RaftNode<Position>;
  readonly storage: NodeStorage;
  readonly clock: ManualClock;
  readonly machine: RecordingMachine;
  readonly transport: MemoryTransport;
  readonly life: Life;
}

interface Member {
  readonly id: NodeId;
  /**
   * Survives crashes: everything a node persisted, and nothing else. Absent
   * when the net's `disks` keep the nodes' state instead.
   */
  readonly disk: MemoryStorage | undefined;
  /** Seeds every incarnation's environment, so a run replays from the net's seed. */
  readonly random: Xoshiro128;
  /** Founding members bootstrap the log; the others join an existing cluster. */
  readonly founder: boolean;
  readonly incarnations: Incarnation[];
}

const addressOf = (id: NodeId): string => `127.0.0.1:${20_000 + id}`;

/**
 * A cluster of real RaftNodes on one in-memory network, driven step by step:
 * every node has its own ManualClock (time moves only in `tick`/`tickAll`),
 * and messages move only in `settle()`, which delivers them and lets the
 * nodes' Ready loops run until nothing moves. Links can be cut per
 * direction; a node can crash (keeping exactly what it persisted) and
 * restart on the same storage.
 */
export class Net {
  readonly network = new MemoryNetwork({ autoDeliver: false });
  private readonly members = new Map<NodeId, Member>();
  private readonly rng: Xoshiro128;
  /** Decides at the receiver whether a message gets in: return false to drop it. */
  filter: (m: Message) => boolean = () => true;
  /** Every message a node let in (snapshot headers included), in order. */
  delivered: Message[] = [];

  private constructor(
    private readonly config: NetConfig,
    seed: number,
  ) {
    this.rng = new Xoshiro128(seed);
  }

  /** Starts a founding member per id and settles. */
  static async create(ids: readonly NodeId[], config: NetConfig = {}, seed = 1): Promise<Net> {
    const net = new Net(config, seed);
    for (const id of ids) net.addMember(id, true);
    for (const id of ids) await net.start(id);
    return net;
  }

  /** Adds and starts an empty server that is not yet a member. */
  async addEmpty(id: NodeId): Promise<void> {
    this.addMember(id, false);
    await this.start(id);
  }

  private addMember(id: NodeId, founder: boolean): void {
    if (this.members.has(id)) throw new Error(`node ${id} exists`);
    this.members.set(id, {
      id,
      disk: this.config.disks === undefined ? new MemoryStorage() : undefined,
      random: this.rng.fork(),
      founder,
      incarnations: [],
    });
  }

  /** Starts (or restarts, after a crash) a node on its storage, then settles. */
  async start(id: NodeId): Promise<void> {
    const m = this.member(id);
    if (this.isUp(id)) throw new Error(`node ${id} is already up`);
    const random = m.random.fork();
    const clock = new ManualClock();
    const env: NodeEnv = { clock, seed: () => random.nextUint32() };
    const machine = new RecordingMachine();
    const transport = this.network.transport(id);
    const {
      electionTicks = 10,
      snapshotEveryEntries = 0,
      disks,
      emptyAppendHoldMs = 0,
      ...raft
    } = this.config;
    const storage = m.disk ?? (await disks!.open(id));
    const peers = m.founder
      ? [...this.members.values()].filter((x) => x.founder)
      : [...this.members.values()];
    const life: Life = { alive: true, fatal: undefined };
    const node = await RaftNode.start<Position>({
      id,
      storage,
      transport: new TappedTransport(transport, {
        admit: (msg) => this.admit(life, msg),
        alive: () => life.alive,
      }),
      stateMachine: machine,
      initialCluster: new Map(peers.map((x) => [x.id, addressOf(x.id)])),
      join: !m.founder,
      heartbeatMs: HEARTBEAT_MS,
      electionMs: electionTicks * HEARTBEAT_MS,
      emptyAppendHoldMs,
      snapshotEveryEntries,
      snapshotEveryBytes: 0,
      raft,
      env,
      onFatal: (err) => {
        life.fatal = err;
      },
    });
    m.incarnations.push({ node, storage, clock, machine, transport, life });
    await this.settle();
  }

  /**
   * Abandons the node's process: it hears nothing more, its clock never
   * moves again (so its timers never fire) and its transport goes down.
   * Its storage keeps what was persisted (the net's `disks` are told, to
   * drop what was not synced). The node is not stopped: a crash flushes
   * nothing.
   */
  crash(id: NodeId): void {
    const inc = this.current(id);
    if (inc === undefined) return;
    inc.life.alive = false;
    void inc.transport.stop();
    this.config.disks?.crash(id);
  }

  private member(id: NodeId): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no node ${id}`);
    return m;
  }

  private current(id: NodeId): Incarnation | undefined {
    const inc = this.member(id).incarnations.at(-1);
    return inc?.life.alive === true ? inc : undefined;
  }

  isUp(id: NodeId): boolean {
    return this.current(id) !== undefined;
  }

  /** The ids of the nodes that are up. */
  upIds(): NodeId[] {
    return [...this.members.keys()].filter((id) => this.isUp(id));
  }

  /** The running RaftNode of `id`. */
  node(id: NodeId): RaftNode<Position> {
    const inc = this.current(id);
    if (inc === undefined) throw new Error(`node ${id} is down`);
    return inc.node;
  }

  /** The node's storage, which survives its crashes (only without the net's `disks`). */
  disk(id: NodeId): MemoryStorage {
    const disk = this.member(id).disk;
    if (disk === undefined) throw new Error(`node ${id} keeps its state on the net's disks`);
    return disk;
  }

  /** The storage the node's current run opened (its last run's, when it is down). */
  storage(id: NodeId): NodeStorage {
    const inc = this.member(id).incarnations.at(-1);
    if (inc === undefined) throw new Error(`node ${id} never started`);
    return inc.storage;
  }

  status(id: NodeId): NodeStatus {
    return this.node(id).status();
  }

  raftStatus(id: NodeId): RaftStatus {
    return this.node(id).raftStatus();
  }

  /** Peer messages refused by the node's guard, over all its incarnations. */
  rejectedPeerMessages(id: NodeId): number {
    let n = 0;
    for (const inc of this.member(id).incarnations) n += inc.node.status().rejectedPeerMessages;
    return n;
  }

  isolate(id: NodeId): void {
    this.network.isolate(id);
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.network.block(from, to);
  }

  heal(): void {
    this.network.heal();
    this.filter = () => true;
  }

  /** Sends `m` from `m.from`'s transport, as that peer would: wire codec, network, receiver's guard. */
  sendAs(m: Message): void {
    const inc = this.current(m.from);
    if (inc === undefined) throw new Error(`node ${m.from} is down`);
    inc.transport.send([m]);
  }

  private admit(life: Life, m: Message): boolean {
    // The filter may crash the receiver, as the snapshot scenarios do.
    if (!life.alive || !this.filter(m) || !life.alive) return false;
    this.delivered.push(m);
    return true;
  }

  /**
   * Delivers messages and lets the nodes' Ready loops run until nothing
   * moves: no message in flight over two rounds that each drained every
   * pending callback. Throws if a live node failed or the net never settles.
   */
  async settle(maxRounds = 10_000): Promise<void> {
    let quietRounds = 0;
    for (let round = 0; round < maxRounds; round++) {
      const moved = this.network.flush();
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.throwIfFailed();
      if (moved > 0 || this.network.pending > 0) quietRounds = 0;
      else if (++quietRounds === 2) return;
    }
    throw new Error(`network did not settle in ${maxRounds} rounds`);
  }

  private throwIfFailed(): void {
    for (const m of this.members.values()) {
      const inc = m.incarnations.at(-1);
      const fatal = inc?.life.alive === true ? inc.life.fatal : undefined;
      if (fatal !== undefined) {
        throw new Error(`node ${m.id} failed: ${fatal.message}`, { cause: fatal });
      }
    }
  }

  /** Moves the clock of `id` (if it is up) by `n` heartbeats, settling after each tick. */
  async tick(id: NodeId, n = 1): Promise<void> {
    for (let i = 0; i < n; i++) {
      await this.current(id)?.clock.advance(HEARTBEAT_MS);
      await this.settle();
    }
  }

  /** Moves the clock of `id` (if it is up) by `ms`, less than a heartbeat (no tick), then settles. */
  async wait(id: NodeId, ms: number): Promise<void> {
    if (!(ms >= 0 && ms < HEARTBEAT_MS))
      throw new Error(`wait ${ms} ms: use tick() for heartbeats`);
    await this.current(id)?.clock.advance(ms);
    await this.settle();
  }

  /** Ticks every node that is up once, then settles; `n` times. */
  async tickAll(n = 1): Promise<void> {
    for (let i = 0; i < n; i++) await this.tickEach(this.upIds());
  }

  /** Ticks each of `ids` that is up once, then settles. */
  async tickEach(ids: readonly NodeId[]): Promise<void> {
    for (const id of ids) await this.current(id)?.clock.advance(HEARTBEAT_MS);
    await this.settle();
  }

  /** Ticks everyone until some node is leader (bounded). */
  async electLeader(maxTicks = 200): Promise<NodeId> {
    for (let i = 0; i < maxTicks; i++) {
      const l = this.leader();
      if (l !== undefined) return l;
      await this.tickAll();
    }
    throw new Error("no leader elected");
  }

  /** Makes `id` campaign now and settles. */
  async campaign(id: NodeId): Promise<void> {
    this.node(id).campaign();
    await this.settle();
  }

  /** The leader of the highest term among the nodes that are up. */
  leader(): NodeId | undefined {
    let best: NodeId | undefined;
    let bestTerm = -1;
    for (const id of this.upIds()) {
      const st = this.status(id);
      if (st.role === Role.Leader && st.term > bestTerm) {
        best = id;
        bestTerm = st.term;
      }
    }
    return best;
  }

  leaders(): NodeId[] {
    return this.upIds().filter((id) => this.status(id).role === Role.Leader);
  }

  /**
   * Proposes a membership change at `id` (with the address of the node it
   * adds) and settles. Throws if the change was refused.
   */
  async change(
    id: NodeId,
    transition: ConfChangeTransition,
    ...changes: [ConfChangeType, NodeId][]
  ): Promise<Outcome<ConfState>> {
    const added = changes.find(([type]) => type !== ConfChangeType.RemoveNode);
    const outcome = track(
      this.node(id).changeMembership({
        transition,
        changes: changes.map(([type, nodeId]) => ({ type, nodeId })),
        ...(added === undefined ? {} : { context: encodeMemberContext(addressOf(added[1])) }),
      }),
    );
    await this.settle();
    if (outcome.state === "rejected") throw outcome.error;
    return outcome;
  }

  /**
   * Proposes `data` at `id` and settles. Returns where the leader appended
   * it and how the proposal ended (pending if it has not committed).
   * Throws if the proposal was refused.
   */
  async propose(id: NodeId, data: string): Promise<Position & { outcome: Outcome<Position> }> {
    const node = this.node(id);
    const outcome = track(node.propose(bytes(data)));
    const { lastIndex, term } = node.status();
    await this.settle();
    if (outcome.state === "rejected") throw outcome.error;
    return { index: lastIndex, term, outcome };
  }

  /** Application payloads this node applied, in order (its last run's, when it is down). */
  appliedData(id: NodeId): string[] {
    return [...(this.member(id).incarnations.at(-1)?.machine.records ?? [])];
  }
}
