/**
 * Runs the phases interleaved: both clusters are up, and each phase runs on
 * one system, then on the other, before the next phase starts (etcd put x1,
 * Conclave put x1, etcd put x16, ...), so a change in the machine's load
 * falls on both within minutes. Which system goes first alternates by round.
 * A phase that fails leaves its figures out of that round (they read NaN)
 * and the run goes on; the failures are returned.
 */
import { loadavg } from "node:os";
import { FIGURE } from "./figures.js";
import { bigKeysPhase, rssPhase } from "./key-space-phases.js";
import type { KvBenchOptions, SystemName } from "./options.js";
import { roundPhases } from "./phases.js";
import { snapshotPhase } from "./snapshot-phase.js";
import { type RoundFigures, type RoundSample, systemOrder } from "./stats.js";
import type { RunningCluster } from "./target.js";

export interface PhaseFailure {
  /** The round (1-based), or "once" for the key-space and snapshot phases. */
  readonly round: number | "once";
  readonly system: SystemName;
  readonly phase: string;
  readonly error: string;
}

export interface InterleavedResult {
  readonly rounds: RoundSample[];
  /** The phases run once per system after the rounds. */
  readonly once: RoundSample;
  readonly failures: PhaseFailure[];
  /** The machine's 1-minute load average at the start of each round and at the end. */
  readonly loadAverages: number[];
}

type Clusters = ReadonlyMap<SystemName, RunningCluster>;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

type Sample = Record<SystemName, Record<string, number>>;

/** One phase on each system in `order`, figures merged into `sample`. */
async function runPhase(
  clusters: Clusters,
  order: readonly SystemName[],
  name: string,
  run: (cluster: RunningCluster) => Promise<RoundFigures>,
  sample: Sample,
  round: number | "once",
  failures: PhaseFailure[],
): Promise<void> {
  for (const system of order) {
    try {
      Object.assign(sample[system], await run(clusters.get(system)!));
    } catch (err) {
      console.error(`  ${system} ${name} failed: ${errorText(err)}`);
      failures.push({ round, system, phase: name, error: errorText(err) });
    }
  }
}

/** Which phases a bench runs: the round phases it names (default all), and the once phases or not. */
export interface BenchScope {
  readonly roundPhases?: readonly string[];
  readonly once?: boolean;
}

export async function runInterleaved(
  clusters: Clusters,
  options: KvBenchOptions,
  scope: BenchScope = {},
): Promise<InterleavedResult> {
  const systems = options.systems.filter((s) => clusters.has(s));
  const failures: PhaseFailure[] = [];
  const rounds: RoundSample[] = [];
  const loadAverages: number[] = [];
  const named = scope.roundPhases;
  const phases = roundPhases(options).filter((p) => named === undefined || named.includes(p.name));
  for (let round = 0; round < options.rounds; round++) {
    loadAverages.push(loadavg()[0]!);
    const order = systemOrder(systems, round);
    console.error(`round ${round + 1} of ${options.rounds} (${order.join(" first, then ")})`);
    const sample: Sample = { etcd: {}, conclave: {} };
    for (const phase of phases) {
      const run = (c: RunningCluster) => phase.run(c.target);
      await runPhase(clusters, order, phase.name, run, sample, round + 1, failures);
    }
    rounds.push(pick(sample, systems));
  }

  if (scope.once === false) {
    loadAverages.push(loadavg()[0]!);
    return { rounds, once: pick({ etcd: {}, conclave: {} }, systems), failures, loadAverages };
  }
  // Once per system: the key space only grows, and the 1 MiB values come last
  // so they weigh on no other figure. Restart comes before them for the same reason.
  const order = systemOrder(systems, options.rounds);
  console.error(`key space and snapshot phases (${order.join(" first, then ")})`);
  const once: Sample = { etcd: {}, conclave: {} };
  const oncePhase = (
    name: string,
    run: (c: RunningCluster, s: SystemName) => Promise<RoundFigures>,
  ) => runPhase(clusters, order, name, (c) => run(c, c.target.name), once, "once", failures);
  await oncePhase("RSS", (c) => rssPhase(c.target, options));
  if (options.bigKeys > 0) {
    await oncePhase("big keys", (c, s) =>
      bigKeysPhase(c, options, once[s][FIGURE.rssKeys] ?? options.keySpace),
    );
  }
  if (options.snapshotMs > 0) {
    await oncePhase("snapshot", (c) => snapshotPhase(c.target, options));
  }
  loadAverages.push(loadavg()[0]!);
  return { rounds, once: pick(once, systems), failures, loadAverages };
}

function pick(sample: Sample, systems: readonly SystemName[]): RoundSample {
  return {
    ...(systems.includes("etcd") && { etcd: sample.etcd }),
    ...(systems.includes("conclave") && { conclave: sample.conclave }),
  };
}
