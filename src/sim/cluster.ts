import { Xoshiro128 } from "../raft/core/prng.js";
import type { NodeId } from "../raft/core/types.js";
import { Role } from "../raft/core/types.js";
import { SimDisk } from "./disk.js";
import { type MemberConfig, type MemberHooks, SimMember } from "./member.js";
import { CALM_NETWORK, SimNetwork } from "./network.js";
import { SafetyChecker } from "./safety.js";
import { Scheduler } from "./scheduler.js";

export interface ClusterOptions {
  readonly seed: number;
  /** Founding voters. */
  readonly voters: readonly NodeId[];
  readonly member: MemberConfig;
  /** Maximum relative clock skew between servers, e.g. 0.05 for ±5%. */
  readonly clockSkew?: number;
  /** Disk write latency range in ms; [0, 0] writes at once. */
  readonly diskDelayMs?: readonly [number, number];
  readonly tornWrites?: boolean;
  readonly trace?: (line: string) => void;
}

/** How often the per-node progress invariants are sampled, in virtual ms. */
const SAMPLE_EVERY_MS = 50;

/**
 * A whole cluster of the shipped member stack (RaftNode + KvStore on
 * simulated disks, clocks and network), driven by one seeded scheduler.
 * Every run is a pure function of its options: replaying a seed replays the
 * run event for event. Safety properties are checked as the run goes; the
 * first violation stops it.
 */
export class Cluster {
  readonly scheduler = new Scheduler();
  readonly random: Xoshiro128;
  readonly network: SimNetwork;
  readonly members = new Map<NodeId, SimMember>();
  readonly safety = new SafetyChecker();
  /** Snapshots members took of their own state, and installed from a leader. */
  readonly snapshots = { created: 0, installed: 0 };
  /** The first safety violation seen, if any. */
  violation: Error | undefined;
  /** Called when any member applies a lease revoke (the lease checks listen). */
  leaseRevokedHook: (id: number) => void = () => {};
  private readonly opts: ClusterOptions;
  private readonly hooks: MemberHooks;
  private readonly diskRandom: Xoshiro128;
  /** A leader whose log is checked for completeness once its first write is durable. */
  private readonly leaderToCheck = new Map<
    NodeId,
    { term: number; epoch: number; knownCommitted: number }
  >();
  private readonly founders: ReadonlyMap<NodeId, string>;

  constructor(opts: ClusterOptions) {
    this.opts = opts;
    this.random = new Xoshiro128(opts.seed);
    this.network = new SimNetwork(this.scheduler, this.random.fork(), (to, arrive) => {
      const process = this.members.get(to)?.process;
      if (process !== undefined) process.run(arrive);
      else arrive(); // nobody there: the network drops it
    });
    this.network.faults = CALM_NETWORK;
    this.diskRandom = this.random.fork();
    const trace = opts.trace;
    this.hooks = {
      applied: (m, e) => this.check(() => this.safety.entryApplied(m.id, e)),
      leaderChange: (m, term, leader) => {
        trace?.(`t=${this.now.toFixed(1)} n${m.id} sees leader ${leader} in term ${term}`);
        if (leader === m.id) {
          this.check(() => this.safety.leaderElected(m.id, term));
          this.leaderToCheck.set(m.id, {
            term,
            epoch: m.epoch,
            knownCommitted: this.highestCommitted(),
          });
        }
      },
      persisted: (m) => {
        const pending = this.leaderToCheck.get(m.id);
        if (pending === undefined) return;
        this.leaderToCheck.delete(m.id);
        // A leader that crashed before its first write was durable is not checked.
        if (pending.epoch !== m.epoch) return;
        // Checked once its log is durable, against what was committed when it
        // won (entries applied by then, of those committed up to that point).
        this.check(() =>
          this.safety.leaderLog(m.id, pending.term, m.disk.durable, pending.knownCommitted),
        );
      },
      leaseRevoked: (_m, id) => this.leaseRevokedHook(id),
      snapshot: (_m, kind) => {
        this.snapshots[kind]++;
      },
      fatal: (m, err) => {
        this.violation ??= new Error(`member ${m.id} stopped: ${err.stack ?? err.message}`);
      },
    };
    this.founders = new Map(opts.voters.map((id) => [id, addressOf(id)]));
    for (const id of opts.voters) this.createMember(id);
  }

  get now(): number {
    return this.scheduler.now;
  }

  /** Whether a trace is being written (so callers can skip building lines nobody reads). */
  get tracing(): boolean {
    return this.opts.trace !== undefined;
  }

  trace(line: string): void {
    this.opts.trace?.(`t=${this.now.toFixed(1)} ${line}`);
  }

  /** Runs `f`, keeping the first safety violation it throws. */
  check(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.violation ??= err as Error;
    }
  }

  private createMember(id: NodeId): SimMember {
    const skew = this.opts.clockSkew ?? 0;
    const rate = 1 + (this.random.float() * 2 - 1) * skew;
    const [dmin, dmax] = this.opts.diskDelayMs ?? [0, 0];
    const diskRandom = this.diskRandom;
    const disk = new SimDisk(
      {
        writeDelayMs: () => (dmax <= 0 ? 0 : dmin + diskRandom.float() * (dmax - dmin)),
        tornWrites: this.opts.tornWrites ?? false,
      },
      this.random.fork(),
    );
    const member = new SimMember(
      id,
      addressOf(id),
      disk,
      rate,
      this.scheduler,
      this.network,
      this.random.fork(),
      this.opts.member,
      this.hooks,
    );
    this.members.set(id, member);
    return member;
  }

  /** The highest index any running member knows to be committed (commit is prefix-closed). */
  private highestCommitted(): number {
    let highest = this.safety.highestApplied;
    for (const m of this.members.values()) {
      const up = m.up;
      if (up !== undefined) highest = Math.max(highest, up.node.status().commitIndex);
    }
    return highest;
  }

  /** Starts every founding member, and the sampling of progress invariants. */
  start(): void {
    for (const m of this.members.values()) if (!m.alive) m.start(this.founders, false);
    const sample = (): void => {
      for (const m of this.members.values()) {
        const up = m.up;
        if (up === undefined || up.process.paused) continue;
        const st = up.node.status();
        this.check(() => this.safety.progress(m.id, m.epoch, st.commitIndex, st.appliedIndex));
      }
      this.scheduler.after(SAMPLE_EVERY_MS, sample);
    };
    this.scheduler.after(SAMPLE_EVERY_MS, sample);
  }

  /** Adds an empty server that joins the cluster (not yet a member: the leader must add it). */
  addServer(id: NodeId): SimMember {
    const member = this.createMember(id);
    const known = new Map([...this.members.values()].map((m) => [m.id, m.address] as const));
    member.start(known, true);
    return member;
  }

  member(id: NodeId): SimMember {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  crash(id: NodeId): void {
    this.trace(`n${id} crash`);
    this.member(id).crash();
  }

  restart(id: NodeId): void {
    this.trace(`n${id} restart`);
    this.member(id).start(this.founders, false);
  }

  pause(id: NodeId, forMs: number): void {
    this.trace(`n${id} pause ${Math.round(forMs)}ms`);
    this.member(id).process?.pause(forMs);
  }

  /** Runs for `ms` of virtual time; stops early on a safety violation. */
  async runFor(ms: number): Promise<void> {
    await this.scheduler.run(this.now + ms, () => this.violation !== undefined);
  }

  /** Runs until `done()` holds, a violation, or `maxMs` passes; returns whether `done()` held. */
  async runUntil(done: () => boolean, maxMs: number): Promise<boolean> {
    await this.scheduler.run(this.now + maxMs, () => this.violation !== undefined || done());
    return done();
  }

  /** The running, unpaused leader with the highest term, if any. */
  leader(): SimMember | undefined {
    let best: SimMember | undefined;
    let bestTerm = -1;
    for (const m of this.members.values()) {
      const up = m.up;
      if (up === undefined || up.process.paused) continue;
      const st = up.node.status();
      if (st.role === Role.Leader && st.term > bestTerm) {
        best = m;
        bestTerm = st.term;
      }
    }
    return best;
  }

  /** Members with a running process whose node has started. */
  upIds(): NodeId[] {
    return [...this.members.values()].filter((m) => m.up !== undefined).map((m) => m.id);
  }

  /** Current voters and learners as seen by the given (or the leading) member. */
  membership(viewer?: SimMember): { voters: NodeId[]; learners: NodeId[] } {
    const m = viewer ?? this.leader() ?? [...this.members.values()].find((x) => x.up);
    const up = m?.up;
    if (up === undefined) return { voters: [], learners: [] };
    const cs = up.node.status().confState;
    return {
      voters: [...new Set([...cs.voters, ...cs.votersOutgoing])].sort((a, b) => a - b),
      learners: [...cs.learners],
    };
  }

  checkLogMatching(): void {
    const disks = new Map([...this.members].map(([id, m]) => [id, m.disk.durable] as const));
    this.check(() => this.safety.logMatching(disks));
  }
}

/** A peer address for the address book; the simulated network routes by id. */
export function addressOf(id: NodeId): string {
  return `127.0.0.1:${7000 + id}`;
}
