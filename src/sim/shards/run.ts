/**
 * One seeded run of the sharded tier: founders come up, clients write and
 * read across every shard, and a seeded schedule of events moves shards —
 * nodes crash (some for good), restart, join, get drained, and are cut off
 * by partitions — while the checks in ShardSim watch every step. Then the
 * network heals, the controller must bring every shard back to its target
 * replicas on live nodes, every key is read once more, and the clients'
 * history must be linearizable per key.
 */
import { Xoshiro128 } from "../../raft/core/prng.js";
import type { NodeId } from "../../raft/core/types.js";
import { checkLinearizability, formatCheckResult, kvModel } from "../lincheck/index.js";
import { CALM_NETWORK } from "../network.js";
import { ShardSim, type ShardSimOptions } from "./cluster.js";
import { ShardWorkload } from "./workload.js";

export interface ShardSimRunOptions {
  readonly seed: number;
  readonly founders?: number;
  readonly shardCount?: number;
  /** Virtual time with events on, ms. */
  readonly faultMs?: number;
  /** After healing, the shards must be back in place within this time, ms. */
  readonly convergeMs?: number;
  /** Idle groups go quiet, as `conclave serve --shards` runs them (default true). */
  readonly quiesce?: boolean;
  readonly trace?: (line: string) => void;
}

export interface ShardSimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly failure?: string;
  readonly simulatedMs: number;
  readonly events: number;
  readonly opsAcknowledged: number;
  readonly opsAbandoned: number;
  /** What the schedule did. */
  readonly crashes: number;
  readonly permanentFailures: number;
  readonly joins: number;
  readonly drains: number;
  readonly partitions: number;
  /** Maps adopted by nodes (each a new placement somewhere). */
  readonly mapsAdopted: number;
  readonly messages: number;
  /** Replicas quiescent on average over the run's samples. */
  readonly meanQuietReplicas: number;
  /** Virtual ms from healing to every shard back on its target replicas. */
  readonly convergedAfterMs?: number;
}

const TICK_MS = 10;
const ELECTION_MS = 100;
const HEARTBEAT_INTERVAL_MS = 50;
const FAILURE_TIMEOUT_MS = 400;
const QUIESCE_AFTER_TICKS = 3;

/** The simulated cluster's shape and timings, as a run uses them (tests build theirs from it). */
export interface ShardSimShape {
  readonly seed: number;
  readonly founders?: number;
  readonly shardCount?: number;
  /** Idle groups go quiet (default true). */
  readonly quiesce?: boolean;
  /** Node-to-node liveness pings (default: on when groups quiesce). */
  readonly liveness?: boolean;
  /** A node silent this long is replaced by the controller (default 400 ms). */
  readonly failureTimeoutMs?: number;
  readonly trace?: (line: string) => void;
}

export function shardSimOptions(o: ShardSimShape): ShardSimOptions {
  const quiesce = o.quiesce ?? true;
  return {
    seed: o.seed,
    founders: o.founders ?? 5,
    shardCount: o.shardCount ?? 8,
    replication: 3,
    timing: {
      heartbeatMs: TICK_MS,
      electionMs: ELECTION_MS,
      requestTimeoutMs: ELECTION_MS * 3,
      snapshotEveryEntries: 40,
      leaseCheckMs: TICK_MS * 5,
      ...(quiesce && { quiesceAfterTicks: QUIESCE_AFTER_TICKS }),
    },
    heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
    ...((o.liveness ?? quiesce) && { liveness: { intervalMs: TICK_MS, timeoutMs: ELECTION_MS } }),
    controller: {
      failureTimeoutMs: o.failureTimeoutMs ?? FAILURE_TIMEOUT_MS,
      maxMoving: 4,
      catchUpEntries: 64,
    },
    diskDelayMs: [0.2, 2],
    ...(o.trace !== undefined && { trace: o.trace }),
  };
}

export async function runShardSimulation(opts: ShardSimRunOptions): Promise<ShardSimResult> {
  const rng = new Xoshiro128(opts.seed);
  const founders = opts.founders ?? 5;
  const faultMs = opts.faultMs ?? 6000;
  const convergeMs = opts.convergeMs ?? 8000;
  const sim = new ShardSim(
    shardSimOptions({
      seed: rng.nextUint32(),
      founders,
      ...(opts.shardCount !== undefined && { shardCount: opts.shardCount }),
      ...(opts.quiesce !== undefined && { quiesce: opts.quiesce }),
      ...(opts.trace !== undefined && { trace: opts.trace }),
    }),
  );
  const keys = Array.from({ length: 24 }, (_, i) => `k${i}`);
  const workload = new ShardWorkload(sim, rng.fork(), {
    clients: 6,
    keys,
    attemptTimeoutMs: ELECTION_MS * 4,
    opDeadlineMs: ELECTION_MS * 30,
    thinkMs: 15,
  });
  const counts = { crashes: 0, permanentFailures: 0, joins: 0, drains: 0, partitions: 0 };
  let convergedAfterMs: number | undefined;
  const finish = (failure?: string): ShardSimResult => ({
    seed: opts.seed,
    ok: failure === undefined,
    ...(failure !== undefined && { failure }),
    simulatedMs: Math.round(sim.now),
    events: sim.scheduler.eventsRun,
    opsAcknowledged: workload.acknowledged,
    opsAbandoned: workload.history.filter((o) => o.ret === undefined).length,
    ...counts,
    mapsAdopted: sim.mapsAdopted,
    messages: sim.network.sent,
    meanQuietReplicas: Math.round((sim.quietReplicaSamples / Math.max(1, sim.samples)) * 10) / 10,
    ...(convergedAfterMs !== undefined && { convergedAfterMs: Math.round(convergedAfterMs) }),
  });
  const violated = (): string | undefined =>
    sim.violation === undefined ? undefined : `${sim.violation.name}: ${sim.violation.message}`;

  sim.start();
  if (!(await sim.runUntil(() => sim.converged(), convergeMs))) {
    return finish(violated() ?? "liveness: the founding placement never settled");
  }
  workload.start();
  // The schedule: at most one node down or cut off at a time, so every shard
  // keeps a quorum (R = 3) and must stay available through every move.
  const events = rng.fork();
  const retired = new Set<NodeId>();
  let nextId = founders + 1;
  const end = sim.now + faultMs;
  while (sim.now < end && sim.violation === undefined) {
    await sim.runFor(300 + events.float() * 500);
    // Often strike while the clients are quiet: idle groups have gone quiet
    // and only the node-to-node liveness can wake them.
    if (events.float() < 0.4) {
      workload.pause(300 + events.float() * 900);
      await sim.runFor(150);
    }
    const live = sim.liveNodes().filter((id) => !retired.has(id));
    const roll = events.float();
    const victim = live[events.int(live.length)] as NodeId;
    if (roll < 0.3) {
      counts.crashes++;
      sim.crash(victim);
      await sim.runFor(200 + events.float() * 400);
      sim.restart(victim);
    } else if (roll < 0.45 && live.length > 4 && sim.converged()) {
      // For good: the controller must re-replicate its shards elsewhere.
      counts.permanentFailures++;
      retired.add(victim);
      sim.crash(victim);
    } else if (roll < 0.65 && sim.nodes.size < founders + 3) {
      counts.joins++;
      sim.addNode(nextId++, events.float() < 0.3 ? 2 : 1);
    } else if (roll < 0.75 && live.length > 4) {
      if (sim.drain(victim)) {
        counts.drains++;
        retired.add(victim); // drained nodes are left alone by the schedule
      }
    } else {
      counts.partitions++;
      const others = sim.liveNodes().filter((id) => id !== victim);
      sim.trace(`partition n${victim} from ${others.join(",")}`);
      sim.network.partition([victim], others);
      await sim.runFor(200 + events.float() * 600);
      sim.network.heal();
    }
    // Mostly let the controller catch up before the next event; sometimes
    // strike again while shards are still moving.
    if (events.float() < 0.6) await sim.runUntil(() => sim.converged(), 4000);
  }
  sim.network.heal();
  sim.network.faults = CALM_NETWORK;
  const healedAt = sim.now;
  const broken = violated();
  if (broken !== undefined) return finish(broken);
  if (!(await sim.runUntil(() => sim.converged(), convergeMs))) {
    return finish(
      violated() ??
        `liveness: shards not back in place ${convergeMs} ms after healing (live ${sim.liveNodes().join(",")}): ${sim.unsettled().slice(0, 4).join("; ")}`,
    );
  }
  convergedAfterMs = sim.now - healedAt;
  workload.stop();
  if (!(await sim.runUntil(() => workload.idle, ELECTION_MS * 40))) {
    return finish("liveness: client operations still pending after healing");
  }
  let readsDone = false;
  void workload.finalReads().then(() => {
    readsDone = true;
  });
  if (!(await sim.runUntil(() => readsDone, convergeMs))) {
    return finish("liveness: the final reads did not finish");
  }
  const late = violated();
  if (late !== undefined) return finish(late);
  const lin = checkLinearizability(kvModel, workload.history, { maxSteps: 2_000_000 });
  if (lin.result !== "ok") return finish(`linearizability: ${formatCheckResult(kvModel, lin)}`);
  return finish();
}
