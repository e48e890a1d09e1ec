import { ReadOnlyOption } from "../raft/core/config.js";
import { Xoshiro128 } from "../raft/core/prng.js";
import type { ConfChange, NodeId } from "../raft/core/types.js";
import { ConfChangeTransition, ConfChangeType } from "../raft/core/types.js";
import { Cluster } from "./cluster.js";
import { checkLeases } from "./lease-checks.js";
import { checkLinearizability, formatCheckResult } from "./lincheck/index.js";
import { keyspaceModel } from "./lincheck/keyspace-model.js";
import { CALM_NETWORK } from "./network.js";
import type { FaultWeights, Profile } from "./profiles.js";
import { checkRevisionOrder } from "./revision-order.js";
import { Workload } from "./workload.js";

export interface SimOptions {
  readonly seed: number;
  readonly profile: Profile;
  /** Virtual time with faults on, ms. */
  readonly faultMs?: number;
  /** After healing, every operation started must finish within this time, ms. */
  readonly livenessBoundMs?: number;
  readonly trace?: (line: string) => void;
}

export interface SimResult {
  readonly seed: number;
  readonly profile: string;
  readonly ok: boolean;
  /** What failed: a safety property, linearizability, the lease checks or liveness. */
  readonly failure?: string;
  readonly simulatedMs: number;
  readonly events: number;
  readonly opsCompleted: number;
  readonly opsAbandoned: number;
  readonly leases: number;
  /** Keep-alives acknowledged, over all leases. */
  readonly keepAlives: number;
  readonly leaderChanges: number;
  readonly messages: number;
  readonly snapshotsCreated: number;
  readonly snapshotsInstalled: number;
}

const TICK_MS = 10;
const ELECTION_MS = 100;
const LEASE_TTL_MS = 600;
const LEADER_WATCH_MS = 25;
/** Below the lease TTL, so leases are checkpointed and renewals after a checkpoint clear it. */
const LEASE_CHECKPOINT_MS = 70;

/**
 * One seeded run: a cluster of the shipped member stack under a profile's
 * faults with a client workload, then faults heal and every property is
 * checked. A pure function of (seed, profile, durations): rerunning it
 * replays the same events.
 */
export async function runSimulation(opts: SimOptions): Promise<SimResult> {
  const { seed, profile } = opts;
  const faultMs = opts.faultMs ?? 3000;
  const livenessBoundMs = opts.livenessBoundMs ?? 3000;
  const rng = new Xoshiro128(seed);
  const n = profile.nodes[0] + rng.int(profile.nodes[1] - profile.nodes[0] + 1);
  const voters = Array.from({ length: n }, (_, i) => i + 1);
  const clockSkew = profile.clockSkew;
  const cluster = new Cluster({
    seed: rng.nextUint32(),
    voters,
    clockSkew,
    diskDelayMs: profile.diskDelayMs,
    tornWrites: profile.tornWrites,
    member: {
      heartbeatMs: TICK_MS,
      electionMs: ELECTION_MS,
      requestTimeoutMs: ELECTION_MS,
      snapshotEveryEntries: profile.snapshotEvery,
      leaseCheckMs: TICK_MS,
      leaseCheckpointMs: LEASE_CHECKPOINT_MS,
      raft: {
        maxSizePerMsgBytes: 4096,
        maxInflightMsgs: 8,
        readOnlyOption: profile.leaseReads ? ReadOnlyOption.LeaseBased : ReadOnlyOption.Safe,
        maxClockDriftRatio: 0.1,
        checkQuorum: profile.checkQuorum,
        preVote: profile.preVote,
      },
    },
    ...(opts.trace ? { trace: opts.trace } : {}),
  });
  const workload = new Workload(cluster, rng.fork(), {
    clients: 4,
    leaseClients: 2,
    keys: ["x", "y", "z"],
    attemptTimeoutMs: ELECTION_MS,
    opDeadlineMs: 12 * ELECTION_MS,
    thinkMs: 10,
    leaseTtlMs: LEASE_TTL_MS,
    keepAliveEveryMs: LEASE_TTL_MS / 3,
  });
  const revokedAt = new Map<number, number>();
  cluster.leaseRevokedHook = (id) => {
    if (!revokedAt.has(id)) revokedAt.set(id, cluster.now);
  };
  let leaderChanges = 0;
  let lastLeader: NodeId | undefined;
  let lastTerm = 0;
  /** When the leader seen last was first seen (no earlier than it took over). */
  let leaderSince = 0;
  const finish = (failure?: string): SimResult => ({
    seed,
    profile: profile.name,
    ok: failure === undefined,
    ...(failure === undefined ? {} : { failure }),
    simulatedMs: Math.round(cluster.now),
    events: cluster.scheduler.eventsRun,
    opsCompleted: workload.completed,
    opsAbandoned: workload.abandoned.length,
    leases: workload.leases.length,
    keepAlives: workload.leases.reduce((n, l) => n + l.acknowledged.length - 1, 0),
    leaderChanges,
    messages: cluster.network.sent,
    snapshotsCreated: cluster.snapshots.created,
    snapshotsInstalled: cluster.snapshots.installed,
  });
  const violated = (): string | undefined => {
    const v = cluster.violation;
    return v === undefined ? undefined : `${v.name}: ${v.message}`;
  };

  try {
    cluster.network.faults = profile.network;
    cluster.start();
    workload.start();
    const faults = new FaultInjector(cluster, rng.fork(), profile, voters.length);
    faults.schedule(faultMs);
    const watchLeader = (): void => {
      const leader = cluster.leader();
      const l = leader?.id;
      const term = leader?.up?.node.status().term ?? 0;
      if (l !== undefined && l !== lastLeader) leaderChanges++;
      if (l !== undefined && (l !== lastLeader || term !== lastTerm)) {
        lastLeader = l;
        lastTerm = term;
        leaderSince = cluster.now;
      }
      cluster.scheduler.after(LEADER_WATCH_MS, watchLeader);
    };
    watchLeader();
    await cluster.runFor(faultMs);
    // Heal everything: from here on the cluster must make progress.
    faults.stop();
    cluster.network.heal();
    cluster.network.faults = CALM_NETWORK;
    for (const m of cluster.members.values()) {
      if (!m.alive && !faults.retired.has(m.id)) cluster.restart(m.id);
      m.process?.resume();
    }
    const healedAt = cluster.now;
    cluster.checkLogMatching();
    // Let operations started after healing run for a while, then stop issuing.
    await cluster.runFor(livenessBoundMs / 2);
    workload.stop();
    const settled = await cluster.runUntil(() => workload.idle, livenessBoundMs / 2);
    cluster.checkLogMatching();
    const broken = violated();
    if (broken !== undefined) return finish(broken);
    if (!settled) {
      return finish(`liveness: operations still pending ${livenessBoundMs} ms after healing`);
    }
    const late = workload.abandoned.filter((a) => a.call >= healedAt + 2 * ELECTION_MS);
    if (late.length > 0) {
      return finish(
        `liveness: ${late.length} operation(s) started after healing were abandoned (first at t=${Math.round(late[0]!.call)})`,
      );
    }
    const leader = cluster.leader();
    if (leader === undefined) return finish("liveness: no leader after healing");
    const abandonedBefore = workload.abandoned.length;
    const reading = workload.finalReads();
    let readsDone = false;
    void reading.then(() => {
      readsDone = true;
    });
    if (!(await cluster.runUntil(() => readsDone, livenessBoundMs))) {
      return finish("liveness: the final reads did not finish");
    }
    if (workload.abandoned.length > abandonedBefore) {
      return finish("liveness: a final read was abandoned");
    }
    const order = checkRevisionOrder(workload.revisions);
    if (order !== undefined) return finish(`revision order: ${order}`);
    const leaseProblem = checkLeases(workload.leases, revokedAt, {
      now: cluster.now,
      clockSkew,
      leaderSince,
      takeoverGraceMs: ELECTION_MS,
      // A check interval, the revoke's trip through the log, and the watch's granularity.
      expiryBoundMs: ELECTION_MS + LEADER_WATCH_MS + 2 * TICK_MS,
      liveLeases: new Set(leader.up!.store.leases().map((l) => l.id)),
    });
    if (leaseProblem !== undefined) return finish(`leases: ${leaseProblem}`);
    const lin = checkLinearizability(keyspaceModel, workload.history, { maxSteps: 2_000_000 });
    if (lin.result === "illegal") {
      return finish(`linearizability: ${formatCheckResult(keyspaceModel, lin)}`);
    }
    if (lin.result === "unknown") return finish(`linearizability check gave up: ${lin.reason}`);
    return finish();
  } catch (err) {
    const e = err as Error;
    return finish(`${e.name}: ${e.message}\n${e.stack ?? ""}`);
  }
}

/** Injects a profile's faults at random times, and undoes them on stop(). */
class FaultInjector {
  private stopped = false;
  private nextId: NodeId;
  /** Members removed from the cluster and shut down for good. */
  readonly retired = new Set<NodeId>();
  private readonly weights: [keyof FaultWeights, number][];

  constructor(
    private readonly cluster: Cluster,
    private readonly rng: Xoshiro128,
    private readonly profile: Profile,
    founding: number,
  ) {
    this.nextId = founding + 1;
    this.weights = Object.entries(profile.faults).filter(([, w]) => (w ?? 0) > 0) as [
      keyof FaultWeights,
      number,
    ][];
  }

  schedule(untilMs: number): void {
    if (this.weights.length === 0) return;
    const loop = (): void => {
      if (this.stopped || this.cluster.now >= untilMs) return;
      this.act(this.pick());
      this.cluster.scheduler.after(this.rng.float() * 2 * this.profile.faultEveryMs, loop);
    };
    this.cluster.scheduler.after(this.rng.float() * this.profile.faultEveryMs, loop);
  }

  stop(): void {
    this.stopped = true;
  }

  private pick(): keyof FaultWeights {
    const total = this.weights.reduce((s, [, w]) => s + w, 0);
    let r = this.rng.float() * total;
    for (const [k, w] of this.weights) {
      r -= w;
      if (r < 0) return k;
    }
    return this.weights[this.weights.length - 1]![0];
  }

  private randomOf<T>(xs: readonly T[]): T | undefined {
    return xs.length === 0 ? undefined : xs[this.rng.int(xs.length)];
  }

  private live(): NodeId[] {
    return [...this.cluster.members.values()]
      .filter((m) => m.alive && !this.retired.has(m.id))
      .map((m) => m.id);
  }

  private act(kind: keyof FaultWeights): void {
    const c = this.cluster;
    const all = [...c.members.keys()].filter((id) => !this.retired.has(id));
    switch (kind) {
      case "crash": {
        const id = this.randomOf(this.live());
        if (id !== undefined) c.crash(id);
        return;
      }
      case "crashAll": {
        const down = this.live();
        c.trace(`power loss: ${down.join(",")}`);
        for (const id of down) c.crash(id);
        c.scheduler.after(20 + this.rng.float() * 180, () => {
          for (const id of down) if (!this.retired.has(id) && !c.member(id).alive) c.restart(id);
        });
        return;
      }
      case "restart": {
        const id = this.randomOf(all.filter((x) => !c.member(x).alive));
        if (id !== undefined) c.restart(id);
        return;
      }
      case "partition": {
        const shuffled = [...all].sort(() => this.rng.float() - 0.5);
        const cut = 1 + this.rng.int(Math.max(1, shuffled.length - 1));
        c.trace(`partition ${shuffled.slice(0, cut)} | ${shuffled.slice(cut)}`);
        c.network.partition(shuffled.slice(0, cut), shuffled.slice(cut));
        return;
      }
      case "isolateLeader": {
        const leader = c.leader()?.id;
        if (leader === undefined) return;
        c.trace(`isolate leader ${leader}`);
        c.network.partition(
          [leader],
          all.filter((x) => x !== leader),
        );
        return;
      }
      case "oneWay": {
        const a = this.randomOf(all);
        const b = this.randomOf(all.filter((x) => x !== a));
        if (a !== undefined && b !== undefined) {
          c.trace(`block ${a} -> ${b}`);
          c.network.block(a, b);
        }
        return;
      }
      case "heal":
        c.trace("heal");
        c.network.heal();
        return;
      case "pause": {
        // Freezing the leader is the interesting case: others elect a new one meanwhile.
        const leader = c.leader()?.id;
        const id =
          leader !== undefined && this.rng.float() < 0.6 ? leader : this.randomOf(this.live());
        if (id !== undefined) c.pause(id, 50 + this.rng.float() * 400);
        return;
      }
      case "transfer": {
        const leader = c.leader();
        const to = this.randomOf(c.membership(leader).voters.filter((v) => v !== leader?.id));
        const node = leader?.up?.node;
        if (node !== undefined && to !== undefined) {
          c.trace(`transfer ${leader!.id} -> ${to}`);
          node.transferLeadership(to, { timeoutMs: 200 }).catch(() => {});
        }
        return;
      }
      case "membership":
        this.changeMembership();
        return;
    }
  }

  /** Adds a learner, promotes one, removes a voter, or replaces one (even the leader) jointly. */
  private changeMembership(): void {
    const c = this.cluster;
    const leader = c.leader();
    const node = leader?.up?.node;
    if (leader === undefined || node === undefined) return;
    const { voters, learners } = c.membership(leader);
    const roll = this.rng.float();
    const change = (what: string, cc: ConfChange): void => {
      c.trace(what);
      node.changeMembership(cc).catch(() => {});
    };
    const auto = (...changes: ConfChange["changes"]): ConfChange => ({
      transition: ConfChangeTransition.Auto,
      changes,
    });
    if (learners.length > 0 && roll < 0.4) {
      const id = learners[0]!;
      change(`promote ${id}`, auto({ type: ConfChangeType.AddNode, nodeId: id }));
    } else if (voters.length > 3 && roll < 0.6) {
      const id = this.randomOf(voters)!;
      change(`remove ${id}`, auto({ type: ConfChangeType.RemoveNode, nodeId: id }));
      this.retireLater(id);
    } else if (learners.length === 0 && roll < 0.8) {
      const id = this.nextId++;
      const joining = c.addServer(id);
      c.trace(`add learner ${id}`);
      node.addLearner(id, joining.address).catch(() => {});
    } else if (learners.length > 0) {
      // Replace the leader by a learner in one joint change.
      const incoming = learners[0]!;
      change(`joint: add ${incoming}, remove leader ${leader.id}`, {
        transition: ConfChangeTransition.JointImplicit,
        changes: [
          { type: ConfChangeType.AddNode, nodeId: incoming },
          { type: ConfChangeType.RemoveNode, nodeId: leader.id },
        ],
      });
      this.retireLater(leader.id);
    }
  }

  /** A removed server is shut down a while later, once the change has likely applied. */
  private retireLater(id: NodeId): void {
    this.cluster.scheduler.after(500, () => {
      const leader = this.cluster.leader();
      if (leader === undefined) return;
      const { voters, learners } = this.cluster.membership(leader);
      if (voters.includes(id) || learners.includes(id)) return;
      if (leader.up!.node.status().confState.votersOutgoing.length > 0) return;
      this.retired.add(id);
      if (this.cluster.member(id).alive) this.cluster.crash(id);
    });
  }
}
