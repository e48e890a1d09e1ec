/**
 * `npm run sim -- --seeds N [--profile NAME] [--from S]` sweeps seeds across
 * fault profiles; `npm run sim -- --seed N [--profile NAME] --trace` replays
 * one seed and prints its event trace. Ends with one JSON summary line.
 */
import { parseArgs } from "node:util";
import type { Profile } from "./profiles.js";
import { PROFILES, profileByName } from "./profiles.js";
import { runSimulation } from "./run.js";

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: npm run sim -- --seeds N [--from S] [--profile NAME]\n       npm run sim -- --seed N [--profile NAME] [--trace]\nprofiles: ${PROFILES.map((p) => p.name).join(", ")}\n`,
  );
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    seeds: { type: "string" },
    seed: { type: "string" },
    from: { type: "string", default: "1" },
    profile: { type: "string" },
    trace: { type: "boolean", default: false },
  },
  strict: true,
});

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    usage(`--${name} must be a non-negative integer, got "${v}"`);
  return n;
}

const seed = int("seed", values.seed);
const seeds = int("seeds", values.seeds);
const from = int("from", values.from) ?? 1;
let profiles: readonly Profile[] = PROFILES;
if (values.profile !== undefined) {
  const p = profileByName(values.profile);
  if (p === undefined) usage(`unknown profile "${values.profile}"`);
  profiles = [p];
}

/** Seed s runs under profile (s mod #profiles) unless one profile is named. */
export function profileForSeed(s: number, list: readonly Profile[]): Profile {
  return list[s % list.length]!;
}

const replay = (s: number, p: Profile): string =>
  `npm run sim -- --seed ${s} --profile ${p.name} --trace`;

if (seed !== undefined) {
  const profile = profileForSeed(seed, profiles);
  const res = await runSimulation({
    seed,
    profile,
    ...(values.trace ? { trace: (l: string) => process.stdout.write(`${l}\n`) } : {}),
  });
  process.stdout.write(`${res.ok ? "PASS" : "FAIL"} seed ${seed} profile ${profile.name}\n`);
  if (!res.ok) process.stdout.write(`${res.failure}\n`);
  process.stdout.write(`${JSON.stringify(res)}\n`);
  process.exitCode = res.ok ? 0 : 1;
} else {
  const count = seeds ?? 100;
  const started = performance.now();
  let failures = 0;
  let simulatedMs = 0;
  let events = 0;
  const perProfile = new Map<string, { runs: number; failures: number; ops: number }>();
  for (let s = from; s < from + count; s++) {
    const profile = profileForSeed(s, profiles);
    const res = await runSimulation({ seed: s, profile });
    simulatedMs += res.simulatedMs;
    events += res.events;
    const agg = perProfile.get(profile.name) ?? { runs: 0, failures: 0, ops: 0 };
    agg.runs++;
    agg.ops += res.opsCompleted;
    if (!res.ok) {
      failures++;
      agg.failures++;
      process.stdout.write(
        `FAIL seed ${s} profile ${profile.name}: ${res.failure?.split("\n")[0]}\n  replay: ${replay(s, profile)}\n`,
      );
    }
    perProfile.set(profile.name, agg);
  }
  const wallMs = performance.now() - started;
  process.stdout.write("\nprofile      runs  failures  ops completed\n");
  for (const [name, a] of perProfile) {
    process.stdout.write(
      `${name.padEnd(12)} ${String(a.runs).padStart(4)}  ${String(a.failures).padStart(8)}  ${String(a.ops).padStart(13)}\n`,
    );
  }
  process.stdout.write(
    `${JSON.stringify({ seedsRun: count, failures, simulatedMs, wallMs: Math.round(wallMs), eventsPerSecond: Math.round(events / (wallMs / 1000)) })}\n`,
  );
  process.exitCode = failures === 0 ? 0 : 1;
}
