/**
 * `npm run sim -- --seeds N [--from S] [--profile NAME] [--jobs J] [--fault-ms MS] [--liveness-ms MS]`
 * sweeps seeds across fault profiles in J processes (default: one per CPU);
 * `npm run sim -- --seed N [--profile NAME] --trace` replays one seed and
 * prints its event trace. Ends with one JSON summary line naming what ran.
 */
import { fork } from "node:child_process";
import { availableParallelism } from "node:os";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import type { Profile } from "./profiles.js";
import { PROFILES, profileByName } from "./profiles.js";
import { runSimulation } from "./run.js";
import {
  addSummary,
  emptySummary,
  profileForSeed,
  replayCommand,
  type SweepSummary,
  sweepSeeds,
} from "./sweep.js";

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: npm run sim -- --seeds N [--from S] [--profile NAME] [--jobs J] [--fault-ms MS] [--liveness-ms MS]\n       npm run sim -- --seed N [--profile NAME] [--trace]\nprofiles: ${PROFILES.map((p) => p.name).join(", ")}\n`,
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
    jobs: { type: "string" },
    "fault-ms": { type: "string" },
    "liveness-ms": { type: "string" },
    /** Internal: run every `stride`-th seed and print the summary for the parent. */
    stride: { type: "string" },
    worker: { type: "boolean", default: false },
  },
  strict: true,
});

function int(name: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min)
    usage(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}

const seed = int("seed", values.seed);
const from = int("from", values.from) ?? 1;
const faultMs = int("fault-ms", values["fault-ms"], 100);
const livenessBoundMs = int("liveness-ms", values["liveness-ms"], 500);
const durations = {
  ...(faultMs === undefined ? {} : { faultMs }),
  ...(livenessBoundMs === undefined ? {} : { livenessBoundMs }),
};
let profiles: readonly Profile[] = PROFILES;
if (values.profile !== undefined) {
  const p = profileByName(values.profile);
  if (p === undefined) usage(`unknown profile "${values.profile}"`);
  profiles = [p];
}

const WHAT_RAN = {
  node: "RaftNode",
  stateMachine: "KvStore",
  storage: "MemoryStorage",
  transport: "MemoryTransport",
};

if (seed !== undefined) {
  const profile = profileForSeed(seed, profiles);
  const res = await runSimulation({
    seed,
    profile,
    ...durations,
    ...(values.trace ? { trace: (l: string) => process.stdout.write(`${l}\n`) } : {}),
  });
  process.stdout.write(`${res.ok ? "PASS" : "FAIL"} seed ${seed} profile ${profile.name}\n`);
  if (!res.ok) process.stdout.write(`${res.failure}\n`);
  process.stdout.write(`${JSON.stringify({ ...res, ...WHAT_RAN })}\n`);
  process.exitCode = res.ok ? 0 : 1;
} else if (values.worker) {
  const summary = await sweepSeeds({
    from,
    count: int("seeds", values.seeds) ?? 0,
    stride: int("stride", values.stride, 1) ?? 1,
    profiles,
    durations,
  });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
} else {
  const count = int("seeds", values.seeds) ?? 100;
  const jobs = Math.min(count, int("jobs", values.jobs, 1) ?? availableParallelism());
  const started = performance.now();
  const total = emptySummary();
  const workers = Array.from({ length: jobs }, (_, j) =>
    runWorker(from + j, Math.ceil((count - j) / jobs), jobs).then((s) => addSummary(total, s)),
  );
  await Promise.all(workers);
  const wallMs = performance.now() - started;
  total.failed.sort((a, b) => a.seed - b.seed);
  for (const f of total.failed) {
    process.stdout.write(
      `FAIL seed ${f.seed} profile ${f.profile}: ${f.failure}\n  replay: ${replayCommand(f.seed, profileByName(f.profile)!, durations)}\n`,
    );
  }
  process.stdout.write("\nprofile      runs  failures  ops completed\n");
  for (const [name, a] of Object.entries(total.perProfile)) {
    process.stdout.write(
      `${name.padEnd(12)} ${String(a.runs).padStart(5)}  ${String(a.failures).padStart(8)}  ${String(a.ops).padStart(13)}\n`,
    );
  }
  process.stdout.write(
    `${JSON.stringify({
      seedsRun: total.seedsRun,
      failures: total.failures,
      ...WHAT_RAN,
      jobs,
      wallMs: Math.round(wallMs),
      seedsPerSecond: Number((total.seedsRun / (wallMs / 1000)).toFixed(2)),
      simulatedMs: total.simulatedMs,
      events: total.events,
      opsCompleted: total.ops,
      ...durations,
    })}\n`,
  );
  process.exitCode = total.failures === 0 && total.seedsRun === count ? 0 : 1;
}

/** One process sweeping every `stride`-th seed from `first`; resolves with its summary. */
function runWorker(first: number, count: number, stride: number): Promise<SweepSummary> {
  const args = [
    "--worker",
    "--from",
    String(first),
    "--seeds",
    String(count),
    "--stride",
    String(stride),
  ];
  if (values.profile !== undefined) args.push("--profile", values.profile);
  if (faultMs !== undefined) args.push("--fault-ms", String(faultMs));
  if (livenessBoundMs !== undefined) args.push("--liveness-ms", String(livenessBoundMs));
  // A larger young generation: a seed allocates briskly and dies young, and
  // scavenging less often is most of what the garbage collector costs here.
  const child = fork(process.argv[1]!, args, {
    stdio: ["ignore", "pipe", "inherit", "ipc"],
    execArgv: [...process.execArgv, "--max-semi-space-size=64"],
  });
  return new Promise((resolve, reject) => {
    let last = "";
    createInterface({ input: child.stdout! }).on("line", (line) => {
      last = line;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      try {
        resolve(JSON.parse(last) as SweepSummary);
      } catch {
        reject(new Error(`simulation worker for seeds ${first}+${stride}k exited with ${code}`));
      }
    });
  });
}
