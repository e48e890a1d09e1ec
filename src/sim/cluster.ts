import { bootstrapLog } from "../raft/core/bootstrap.js";
import type { RaftConfig } from "../raft/core/config.js";
import { Xoshiro128 } from "../raft/core/prng.js";
import type { ConfChange, Entry, Message, NodeId, ReadState } from "../raft/core/types.js";
import { Role } from "../raft/core/types.js";
import type { KvOutput } from "./kv.js";
import { CALM_NETWORK, SimNetwork } from "./network.js";
import type { NodeEnv } from "./node.js";
import { SimNode } from "./node.js";
import { SafetyChecker } from "./safety.js";
import { Scheduler } from "./scheduler.js";

export interface ClusterOptions {
  readonly seed: number;
  /** Founding voters. */
  readonly voters: readonly NodeId[];
  readonly raft?: Omit<RaftConfig, "id" | "storage" | "random">;
  /** Virtual milliseconds per tick (before skew). */
  readonly tickMs?: number;
  /** Maximum relative clock skew between nodes, e.g. 0.05 for ±5%. */
  readonly clockSkew?: number;
  /** Disk write latency range in ms; [0, 0] writes synchronously. */
  readonly diskDelayMs?: readonly [number, number];
  readonly tornWrites?: boolean;
  readonly snapshotEvery?: number;
  readonly trace?: (line: string) => void;
}

/**
 * A whole cluster of real Raft cores with in-memory disks on a simulated
 * network, driven by one seeded scheduler. Every run is a pure function of
 * its options: replaying a seed replays the run event for event.
 */
export class Cluster {
  readonly scheduler = new Scheduler();
  readonly random: Xoshiro128;
  readonly network: SimNetwork;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly safety = new SafetyChecker();
  /** Called for every applied entry (the workload resolves its requests here). */
  applyHook: (node: SimNode, entry: Entry, output: KvOutput | undefined) => void = () => {};
  readStateHook: (node: SimNode, rs: ReadState) => void = () => {};
  private readonly env: NodeEnv;
  private readonly opts: ClusterOptions;

  constructor(opts: ClusterOptions) {
    this.opts = opts;
    this.random = new Xoshiro128(opts.seed);
    const netRandom = this.random.fork();
    this.network = new SimNetwork(this.scheduler, netRandom, (m) => this.deliver(m));
    this.network.faults = CALM_NETWORK;
    const diskRandom = this.random.fork();
    const [dmin, dmax] = opts.diskDelayMs ?? [0, 0];
    const trace = opts.trace ?? (() => {});
    this.env = {
      scheduler: this.scheduler,
      random: this.random.fork(),
      send: (m) => this.send(m),
      diskDelayMs: () => (dmax <= 0 ? 0 : dmin + diskRandom.float() * (dmax - dmin)),
      tornWrites: opts.tornWrites ?? false,
      snapshotEvery: opts.snapshotEvery ?? 0,
      onApply: (node, e, out) => {
        this.safety.entryApplied(node.id, e);
        this.applyHook(node, e, out);
      },
      onReadState: (node, rs) => this.readStateHook(node, rs),
      onReady: (node, rd) => {
        const st = node.raw!.status();
        this.safety.progress(node.id, node.epoch, st.commit, st.applied);
        if (rd.softState) {
          trace(
            `t=${this.now.toFixed(1)} n${node.id} ${rd.softState.role} term=${st.term} lead=${rd.softState.lead}`,
          );
          if (rd.softState.role === Role.Leader) {
            this.safety.leaderElected(node.id, st.term);
            this.safety.leaderLog(node.id, st.term, node.disk);
          }
        }
      },
      trace: (line) => trace(`t=${this.now.toFixed(1)} ${line}`),
    };
    for (const id of opts.voters) {
      const node = this.createNode(id);
      const { entries, hardState } = bootstrapLog(opts.voters);
      node.disk.append(entries);
      node.disk.setHardState(hardState);
    }
  }

  get now(): number {
    return this.scheduler.now;
  }

  trace(line: string): void {
    this.opts.trace?.(`t=${this.now.toFixed(1)} ${line}`);
  }

  private createNode(id: NodeId): SimNode {
    const base = this.opts.tickMs ?? 10;
    const skew = this.opts.clockSkew ?? 0;
    const tickMs = base * (1 + (this.random.float() * 2 - 1) * skew);
    const node = new SimNode(id, this.env, this.opts.raft ?? {}, tickMs);
    this.nodes.set(id, node);
    return node;
  }

  start(): void {
    for (const node of this.nodes.values()) if (!node.alive) node.start();
  }

  /** Adds an empty server (not yet a member) and starts it. */
  addServer(id: NodeId): SimNode {
    const node = this.createNode(id);
    node.start();
    return node;
  }

  node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  private send(m: Message): void {
    this.network.send(m);
  }

  private deliver(m: Message): void {
    const to = this.nodes.get(m.to);
    if (to === undefined || !to.alive) return;
    to.receive(m);
  }

  crash(id: NodeId): void {
    this.trace(`n${id} crash`);
    this.node(id).crash();
  }

  restart(id: NodeId): void {
    this.trace(`n${id} restart`);
    this.node(id).start();
  }

  pause(id: NodeId, forMs: number): void {
    this.trace(`n${id} pause ${forMs}ms`);
    const node = this.node(id);
    node.pause(this.now + forMs);
    const epoch = node.epoch;
    this.scheduler.after(forMs, () => {
      if (node.epoch === epoch && node.pausedUntil <= this.now) node.resume();
    });
  }

  /** Runs for `ms` of virtual time. */
  runFor(ms: number): void {
    const until = this.now + ms;
    while (this.scheduler.step(until)) {
      /* run */
    }
    this.scheduler.now = Math.max(this.scheduler.now, until);
  }

  /** Runs until `done()` holds (checked after every event) or `maxMs` passes; returns whether it held. */
  runUntil(done: () => boolean, maxMs: number): boolean {
    const until = this.now + maxMs;
    if (done()) return true;
    while (this.scheduler.step(until)) if (done()) return true;
    return done();
  }

  /** The live leader with the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const n of this.nodes.values()) {
      if (!n.alive || n.pausedUntil > this.now) continue;
      const st = n.raw!.status();
      if (st.role === Role.Leader && st.term > bestTerm) {
        best = n;
        bestTerm = st.term;
      }
    }
    return best;
  }

  aliveIds(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.alive).map((n) => n.id);
  }

  /** Current voters as seen by the given (or the leading) node. */
  members(viewer?: SimNode): { voters: NodeId[]; learners: NodeId[] } {
    const n = viewer ?? this.leader() ?? [...this.nodes.values()].find((x) => x.alive);
    if (n === undefined || !n.alive) return { voters: [], learners: [] };
    const cs = n.raw!.status().confState;
    return {
      voters: [...new Set([...cs.voters, ...cs.votersOutgoing])].sort((a, b) => a - b),
      learners: [...cs.learners],
    };
  }

  proposeConfChange(id: NodeId, cc: ConfChange): void {
    const n = this.node(id);
    n.raw!.proposeConfChange(cc);
    n.pump();
  }

  transferLeadership(from: NodeId, to: NodeId): void {
    const n = this.node(from);
    n.raw!.transferLeadership(to);
    n.pump();
  }

  checkLogMatching(): void {
    const disks = new Map([...this.nodes].map(([id, n]) => [id, n.disk] as const));
    this.safety.logMatching(disks);
  }
}
