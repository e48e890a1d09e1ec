import { ReadOnlyOption } from "../raft/core/config.js";
import {
  ConfChangePendingError,
  InvalidConfChangeError,
  NotLeaderError,
  ProposalDroppedError,
} from "../raft/core/errors.js";
import { Xoshiro128 } from "../raft/core/prng.js";
import type { NodeId } from "../raft/core/types.js";
import { ConfChangeTransition, ConfChangeType } from "../raft/core/types.js";
import { Cluster } from "./cluster.js";
import { checkLinearizability, formatCheckResult } from "./lincheck/index.js";
import { kvModel } from "./lincheck/kv-model.js";
import { CALM_NETWORK } from "./network.js";
import type { FaultWeights, Profile } from "./profiles.js";
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
  /** What failed: a safety property, linearizability or liveness. */
  readonly failure?: string;
  readonly simulatedMs: number;
  readonly events: number;
  readonly opsCompleted: number;
  readonly opsAbandoned: number;
  readonly leaderChanges: number;
  readonly messages: number;
}

const TICK_MS = 10;
const ELECTION_TICKS = 10;

/**
 * One seeded run: a cluster under a profile's faults with a client workload,
 * then faults heal and every property is checked. A pure function of
 * (seed, profile, durations): rerunning it replays the same events.
 */
export function runSimulation(opts: SimOptions): SimResult {
  const { seed, profile } = opts;
  const faultMs = opts.faultMs ?? 3000;
  const livenessBoundMs = opts.livenessBoundMs ?? 8000;
  const rng = new Xoshiro128(seed);
  const n = profile.nodes[0] + rng.int(profile.nodes[1] - profile.nodes[0] + 1);
  const voters = Array.from({ length: n }, (_, i) => i + 1);
  const cluster = new Cluster({
    seed: rng.nextUint32(),
    voters,
    tickMs: TICK_MS,
    clockSkew: profile.clockSkew,
    diskDelayMs: profile.diskDelayMs,
    tornWrites: profile.tornWrites,
    snapshotEvery: profile.snapshotEvery,
    raft: {
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: 1,
      maxSizePerMsgBytes: 4096,
      maxInflightMsgs: 8,
      readOnlyOption: profile.leaseReads ? ReadOnlyOption.LeaseBased : ReadOnlyOption.Safe,
      maxClockDriftRatio: 0.1,
      checkQuorum: profile.checkQuorum,
      preVote: profile.preVote,
    },
    ...(opts.trace ? { trace: opts.trace } : {}),
  });
  const workload = new Workload(cluster, rng.fork(), {
    clients: 4,
    keys: ["x", "y", "z"],
    opsPerClient: 1_000_000,
    attemptTimeoutMs: ELECTION_TICKS * TICK_MS,
    opDeadlineMs: 12 * ELECTION_TICKS * TICK_MS,
    thinkMs: 10,
  });
  let leaderChanges = 0;
  let lastLeader: NodeId | undefined;
  const base = {
    seed,
    profile: profile.name,
  };
  const finish = (failure?: string): SimResult => ({
    ...base,
    ok: failure === undefined,
    ...(failure === undefined ? {} : { failure }),
    simulatedMs: Math.round(cluster.now),
    events: cluster.scheduler.eventsRun,
    opsCompleted: workload.completed,
    opsAbandoned: workload.abandoned.length,
    leaderChanges,
    messages: cluster.network.sent,
  });

  try {
    cluster.network.faults = profile.network;
    cluster.start();
    workload.start();
    const faults = new FaultInjector(cluster, rng.fork(), profile, voters.length);
    faults.schedule(faultMs);
    const watchLeader = (): void => {
      const l = cluster.leader()?.id;
      if (l !== undefined && l !== lastLeader) {
        leaderChanges++;
        lastLeader = l;
      }
    };
    for (let t = 0; t < faultMs; t += 50) {
      cluster.runFor(50);
      watchLeader();
    }
    // Heal everything: from here on the cluster must make progress.
    faults.stop();
    cluster.network.heal();
    cluster.network.faults = CALM_NETWORK;
    for (const node of cluster.nodes.values()) {
      if (!node.alive && !faults.retired.has(node.id)) cluster.restart(node.id);
      node.resume();
    }
    const healedAt = cluster.now;
    cluster.checkLogMatching();
    // Let operations started after healing run for a while, then stop issuing.
    cluster.runFor(livenessBoundMs / 2);
    workload.stop();
    const settled = cluster.runUntil(() => workload.idle, livenessBoundMs / 2);
    watchLeader();
    cluster.checkLogMatching();
    if (!settled)
      return finish(`liveness: operations still pending ${livenessBoundMs} ms after healing`);
    const late = workload.abandoned.filter(
      (a) => a.call >= healedAt + 2 * ELECTION_TICKS * TICK_MS,
    );
    if (late.length > 0) {
      return finish(
        `liveness: ${late.length} operation(s) started after healing were abandoned (first at t=${Math.round(late[0]!.call)})`,
      );
    }
    if (cluster.leader() === undefined) return finish("liveness: no leader after healing");
    const lin = checkLinearizability(kvModel, workload.history, { maxSteps: 2_000_000 });
    if (lin.result === "illegal")
      return finish(`linearizability: ${formatCheckResult(kvModel, lin)}`);
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
  /** Nodes removed from the cluster and shut down for good. */
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
    return this.cluster.aliveIds().filter((id) => !this.retired.has(id));
  }

  private act(kind: keyof FaultWeights): void {
    const c = this.cluster;
    const all = [...c.nodes.keys()].filter((id) => !this.retired.has(id));
    switch (kind) {
      case "crash": {
        const id = this.randomOf(this.live());
        if (id !== undefined) c.crash(id);
        return;
      }
      case "restart": {
        const dead = all.filter((id) => !c.node(id).alive);
        const id = this.randomOf(dead);
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
        const to = this.randomOf(c.members(leader).voters.filter((v) => v !== leader?.id));
        if (leader !== undefined && to !== undefined) {
          c.trace(`transfer ${leader.id} -> ${to}`);
          this.tolerate(() => c.transferLeadership(leader.id, to));
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
    if (leader === undefined) return;
    const { voters, learners } = c.members(leader);
    const roll = this.rng.float();
    if (learners.length > 0 && roll < 0.4) {
      const id = learners[0]!;
      c.trace(`promote ${id}`);
      this.tolerate(() =>
        c.proposeConfChange(leader.id, {
          transition: ConfChangeTransition.Auto,
          changes: [{ type: ConfChangeType.AddNode, nodeId: id }],
        }),
      );
    } else if (voters.length > 3 && roll < 0.6) {
      const id = this.randomOf(voters)!;
      c.trace(`remove ${id}`);
      this.tolerate(() =>
        c.proposeConfChange(leader.id, {
          transition: ConfChangeTransition.Auto,
          changes: [{ type: ConfChangeType.RemoveNode, nodeId: id }],
        }),
      );
      this.retireLater(id);
    } else if (learners.length === 0 && roll < 0.8) {
      const id = this.nextId++;
      c.addServer(id);
      c.trace(`add learner ${id}`);
      this.tolerate(() =>
        c.proposeConfChange(leader.id, {
          transition: ConfChangeTransition.Auto,
          changes: [{ type: ConfChangeType.AddLearner, nodeId: id }],
        }),
      );
    } else if (learners.length > 0) {
      // Replace the leader by a learner in one joint change.
      const incoming = learners[0]!;
      c.trace(`joint: add ${incoming}, remove leader ${leader.id}`);
      this.tolerate(() =>
        c.proposeConfChange(leader.id, {
          transition: ConfChangeTransition.JointImplicit,
          changes: [
            { type: ConfChangeType.AddNode, nodeId: incoming },
            { type: ConfChangeType.RemoveNode, nodeId: leader.id },
          ],
        }),
      );
      this.retireLater(leader.id);
    }
  }

  /** A removed server is shut down a while later, once the change has likely applied. */
  private retireLater(id: NodeId): void {
    this.cluster.scheduler.after(500, () => {
      const leader = this.cluster.leader();
      if (leader === undefined || this.cluster.members(leader).voters.includes(id)) return;
      if (this.cluster.members(leader).learners.includes(id)) return;
      if (leader.raw!.status().confState.votersOutgoing.length > 0) return;
      this.retired.add(id);
      if (this.cluster.node(id).alive) this.cluster.crash(id);
    });
  }

  private tolerate(f: () => void): void {
    try {
      f();
    } catch (err) {
      if (
        err instanceof NotLeaderError ||
        err instanceof ConfChangePendingError ||
        err instanceof InvalidConfChangeError ||
        err instanceof ProposalDroppedError
      ) {
        return;
      }
      throw err;
    }
  }
}
