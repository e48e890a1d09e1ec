/**
 * Settings of `npm run bench -- kv`: flags win over KV_BENCH_* environment
 * variables, which win over the defaults (or the `--quick` defaults).
 */
import { parseArgs } from "node:util";

export type SystemName = "etcd" | "conclave";

export interface KvBenchOptions {
  /** Each measured phase stops after this many operations... */
  readonly opsPerPhase: number;
  /** ...or after this many milliseconds, whichever comes first. */
  readonly phaseTimeMs: number;
  /** Distinct keys the put and get phases spread over. */
  readonly keySpace: number;
  readonly valueBytes: number;
  readonly putInFlight: readonly number[];
  readonly getInFlight: number;
  readonly watchers: number;
  /** Puts the writer makes during the watch phase. */
  readonly watchEvents: number;
  /** Keys written before RSS is read. */
  readonly rssKeys: number;
  /** Rounds of the interleaved phases; figures are medians over them. */
  readonly rounds: number;
  /** Leases granted and kept alive in the lease phase. */
  readonly leases: number;
  /** How long the leases are kept alive while measuring. */
  readonly leaseMs: number;
  /** Keys in the key space for the big-key figures (RSS, data dir, restart); 0 skips them. */
  readonly bigKeys: number;
  /** How long the 1 MiB-value snapshot load runs; 0 skips it. */
  readonly snapshotMs: number;
  readonly systems: readonly SystemName[];
  /** Runs `npm run build` before starting the Conclave servers from dist/. */
  readonly build: boolean;
  /** Node options added to every Conclave server, e.g. --cpu-prof. */
  readonly profileArgs: readonly string[];
  readonly keepDataDir: boolean;
  /** Only these round phases (by name), and none of the once phases; all when absent. */
  readonly phases?: readonly string[];
}

const FULL = {
  opsPerPhase: 20_000,
  phaseTimeMs: 20_000,
  watchEvents: 10_000,
  rssKeys: 100_000,
  leases: 10_000,
  leaseSeconds: 60,
  bigKeys: 1_000_000,
  snapshotSeconds: 20,
};
const QUICK = {
  opsPerPhase: 2_000,
  phaseTimeMs: 5_000,
  watchEvents: 2_000,
  rssKeys: 10_000,
  leases: 1_000,
  leaseSeconds: 10,
  bigKeys: 20_000,
  snapshotSeconds: 5,
};

export const USAGE = `usage: npm run bench -- kv [--quick] [--rounds N] [--ops N] [--seconds S]
    [--keys N] [--rss-keys N] [--watch-events N] [--leases N] [--lease-seconds S]
    [--big-keys N] [--snapshot-seconds S] [--only etcd|conclave] [--no-build]
    [--profile] [--keep] [--phases NAME,...]
  --quick              small counts (2,000 ops or 5 s per phase, 10,000 keys for RSS,
                       1,000 leases for 10 s, 20,000 big keys, 5 s of snapshot load)
  --rounds N           rounds of interleaved phases (env KV_BENCH_ROUNDS; default 3)
  --ops N              operations per phase (env KV_BENCH_OPS; default 20,000)
  --seconds S          time limit per phase (env KV_BENCH_SECONDS; default 20)
  --keys N             key space of the put/get phases (env KV_BENCH_KEYS; default 10,000)
  --rss-keys N         keys written before RSS is read (env KV_BENCH_RSS_KEYS; default 100,000)
  --watch-events N     puts of the watch phase (env KV_BENCH_WATCH_EVENTS; default 10,000)
  --leases N           leases kept alive in the lease phase (env KV_BENCH_LEASES; default 10,000)
  --lease-seconds S    how long they are kept alive (env KV_BENCH_LEASE_SECONDS; default 60)
  --big-keys N         keys for RSS, data dir and restart figures (env KV_BENCH_BIG_KEYS;
                       default 1,000,000; 0 skips the phase)
  --snapshot-seconds S 1 MiB-value load at 2 in flight (env KV_BENCH_SNAPSHOT_SECONDS;
                       default 20; 0 skips the phase)
  --only NAME          run one system only (no ratios)
  --no-build           start the Conclave servers from dist/ as it is (no npm run build)
  --profile            start the Conclave servers with --cpu-prof (profiles in the data dir)
  --keep               keep the temporary data dir (logs, profiles)
  --phases NAME,...    only these round phases (warm-up, put x1, put x16, put x64, put x256,
                       get x64, watch, leases) and no key-space or snapshot phase`;

const ROUND_PHASE_NAME = /^(warm-up|put x\d+|get x\d+|watch|leases)$/;

export class OptionsError extends Error {
  readonly code = "BENCH_OPTIONS";
}

/** `min` 1: the value must be > 0; `min` 0: it may also be 0 (the phase is skipped). */
function number(name: string, raw: string | undefined, fallback: number, min: 0 | 1): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < 0 || (min === 1 && value === 0)) {
    const what = min === 0 ? "a number >= 0" : "a positive number";
    throw new OptionsError(`${name} must be ${what}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function integer(name: string, raw: string | undefined, fallback: number, min: 0 | 1): number {
  const value = number(name, raw, fallback, min);
  if (!Number.isSafeInteger(value)) {
    throw new OptionsError(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const STRING_FLAGS = [
  "ops",
  "seconds",
  "keys",
  "rss-keys",
  "watch-events",
  "rounds",
  "leases",
  "lease-seconds",
  "big-keys",
  "snapshot-seconds",
  "only",
  "phases",
] as const;
type StringFlag = (typeof STRING_FLAGS)[number];

/** The flag's environment variable: `--lease-seconds` is KV_BENCH_LEASE_SECONDS. */
const envName = (flag: StringFlag) => `KV_BENCH_${flag.toUpperCase().replaceAll("-", "_")}`;

export function parseKvBenchOptions(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): KvBenchOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        quick: { type: "boolean" },
        ...Object.fromEntries(STRING_FLAGS.map((f) => [f, { type: "string" as const }])),
        "no-build": { type: "boolean" },
        profile: { type: "boolean" },
        keep: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new OptionsError((err as Error).message);
  }
  const raw = (flag: StringFlag): string | undefined => {
    const v = values[flag];
    return typeof v === "string" ? v : env[envName(flag)];
  };
  const base = values["quick"] === true || env["KV_BENCH_QUICK"] === "1" ? QUICK : FULL;
  const only = typeof values["only"] === "string" ? values["only"] : undefined;
  if (only !== undefined && only !== "etcd" && only !== "conclave") {
    throw new OptionsError(`--only must be etcd or conclave, got ${JSON.stringify(only)}`);
  }
  const phasesText = raw("phases");
  const phases = phasesText?.split(",").map((p) => p.trim());
  if (phases?.some((p) => !ROUND_PHASE_NAME.test(p))) {
    throw new OptionsError(`--phases must name round phases, got ${JSON.stringify(phasesText)}`);
  }
  const ms = (flag: StringFlag, fallbackSeconds: number, min: 0 | 1) =>
    Math.round(number(`--${flag}`, raw(flag), fallbackSeconds, min) * 1000);
  return {
    opsPerPhase: integer("--ops", raw("ops"), base.opsPerPhase, 1),
    phaseTimeMs: ms("seconds", base.phaseTimeMs / 1000, 1),
    keySpace: integer("--keys", raw("keys"), 10_000, 1),
    valueBytes: 256,
    putInFlight: [1, 16, 64, 256],
    getInFlight: 64,
    watchers: 10,
    watchEvents: integer("--watch-events", raw("watch-events"), base.watchEvents, 1),
    rssKeys: integer("--rss-keys", raw("rss-keys"), base.rssKeys, 1),
    rounds: integer("--rounds", raw("rounds"), 3, 1),
    leases: integer("--leases", raw("leases"), base.leases, 1),
    leaseMs: ms("lease-seconds", base.leaseSeconds, 1),
    bigKeys: integer("--big-keys", raw("big-keys"), base.bigKeys, 0),
    snapshotMs: ms("snapshot-seconds", base.snapshotSeconds, 0),
    systems: only === undefined ? ["etcd", "conclave"] : [only],
    build: values["no-build"] !== true,
    profileArgs: values["profile"] === true ? ["--cpu-prof"] : [],
    keepDataDir: values["keep"] === true,
    ...(phases !== undefined && { phases }),
  };
}

/**
 * The options of `npm run bench -- <bench>` from this process's arguments
 * and environment; prints the usage and exits on --help or a bad flag.
 */
export function benchOptionsFromArgv(bench: string): KvBenchOptions {
  const usage = USAGE.replace("bench -- kv", `bench -- ${bench}`);
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    console.log(usage);
    process.exit(0);
  }
  try {
    return parseKvBenchOptions(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    console.error(`${err.message}\n${usage}`);
    process.exit(2);
  }
}
