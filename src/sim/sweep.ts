import type { Profile } from "./profiles.js";
import { runSimulation, type SimOptions } from "./run.js";

/** What a sweep of seeds found, summed per profile; sums of sweeps add up. */
export interface SweepSummary {
  seedsRun: number;
  failures: number;
  simulatedMs: number;
  events: number;
  ops: number;
  /** Seeds that failed, with the first line of what failed. */
  failed: { seed: number; profile: string; failure: string }[];
  perProfile: Record<string, { runs: number; failures: number; ops: number }>;
}

export function emptySummary(): SweepSummary {
  return {
    seedsRun: 0,
    failures: 0,
    simulatedMs: 0,
    events: 0,
    ops: 0,
    failed: [],
    perProfile: {},
  };
}

export function addSummary(into: SweepSummary, more: SweepSummary): void {
  into.seedsRun += more.seedsRun;
  into.failures += more.failures;
  into.simulatedMs += more.simulatedMs;
  into.events += more.events;
  into.ops += more.ops;
  into.failed.push(...more.failed);
  for (const [name, p] of Object.entries(more.perProfile)) {
    into.perProfile[name] ??= { runs: 0, failures: 0, ops: 0 };
    const agg = into.perProfile[name];
    agg.runs += p.runs;
    agg.failures += p.failures;
    agg.ops += p.ops;
  }
}

/** Seed s runs under profile (s mod #profiles) unless one profile is named. */
export function profileForSeed(s: number, list: readonly Profile[]): Profile {
  return list[s % list.length]!;
}

export function replayCommand(
  seed: number,
  profile: Profile,
  durations: Pick<SimOptions, "faultMs" | "livenessBoundMs"> = {},
): string {
  const faults = durations.faultMs === undefined ? "" : ` --fault-ms ${durations.faultMs}`;
  const liveness =
    durations.livenessBoundMs === undefined ? "" : ` --liveness-ms ${durations.livenessBoundMs}`;
  return `npm run sim -- --seed ${seed} --profile ${profile.name}${faults}${liveness} --trace`;
}

/**
 * Runs seeds `from`, `from + stride`, ... (`count` of them), each under its
 * profile; `onFailure` hears of each failing seed as it happens.
 */
export async function sweepSeeds(
  opts: {
    readonly from: number;
    readonly count: number;
    readonly stride: number;
    readonly profiles: readonly Profile[];
    readonly durations?: Pick<SimOptions, "faultMs" | "livenessBoundMs">;
  },
  onFailure: (seed: number, profile: Profile, failure: string) => void = () => {},
): Promise<SweepSummary> {
  const summary = emptySummary();
  for (let i = 0; i < opts.count; i++) {
    const seed = opts.from + i * opts.stride;
    const profile = profileForSeed(seed, opts.profiles);
    const res = await runSimulation({ seed, profile, ...opts.durations });
    const one = emptySummary();
    one.seedsRun = 1;
    one.simulatedMs = res.simulatedMs;
    one.events = res.events;
    one.ops = res.opsCompleted;
    one.perProfile[profile.name] = { runs: 1, failures: res.ok ? 0 : 1, ops: res.opsCompleted };
    if (!res.ok) {
      const failure = res.failure?.split("\n")[0] ?? "failed";
      one.failures = 1;
      one.failed.push({ seed, profile: profile.name, failure });
      onFailure(seed, profile, failure);
    }
    addSummary(summary, one);
  }
  return summary;
}
