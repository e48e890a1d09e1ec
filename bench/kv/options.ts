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
  readonly systems: readonly SystemName[];
  /** Node options added to every Conclave server, e.g. --cpu-prof. */
  readonly profileArgs: readonly string[];
  readonly keepDataDir: boolean;
}

const FULL = {
  opsPerPhase: 20_000,
  phaseTimeMs: 20_000,
  watchEvents: 10_000,
  rssKeys: 100_000,
};
const QUICK = {
  opsPerPhase: 2_000,
  phaseTimeMs: 5_000,
  watchEvents: 2_000,
  rssKeys: 10_000,
};

export const USAGE = `usage: npm run bench -- kv [--quick] [--ops N] [--seconds S] [--keys N]
    [--rss-keys N] [--watch-events N] [--only etcd|conclave] [--profile] [--keep]
  --quick          small counts (2,000 ops or 5 s per phase, 10,000 keys for RSS)
  --ops N          operations per phase (env KV_BENCH_OPS; default 20,000)
  --seconds S      time limit per phase (env KV_BENCH_SECONDS; default 20)
  --keys N         key space of the put/get phases (env KV_BENCH_KEYS; default 10,000)
  --rss-keys N     keys written before RSS is read (env KV_BENCH_RSS_KEYS; default 100,000)
  --watch-events N puts of the watch phase (env KV_BENCH_WATCH_EVENTS; default 10,000)
  --only NAME      run one system only
  --profile        start the Conclave servers with --cpu-prof (profiles in the data dir)
  --keep           keep the temporary data dir (logs, profiles)`;

export class OptionsError extends Error {}

function positiveNumber(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value <= 0) {
    throw new OptionsError(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function positive(name: string, raw: string | undefined, fallback: number): number {
  const value = positiveNumber(name, raw, fallback);
  if (!Number.isSafeInteger(value)) {
    throw new OptionsError(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

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
        ops: { type: "string" },
        seconds: { type: "string" },
        keys: { type: "string" },
        "rss-keys": { type: "string" },
        "watch-events": { type: "string" },
        only: { type: "string" },
        profile: { type: "boolean" },
        keep: { type: "boolean" },
      },
      strict: true,
    }).values;
  } catch (err) {
    throw new OptionsError((err as Error).message);
  }
  const str = (key: string): string | undefined => {
    const v = values[key];
    return typeof v === "string" ? v : undefined;
  };
  const base = values["quick"] === true || env["KV_BENCH_QUICK"] === "1" ? QUICK : FULL;
  const only = str("only");
  if (only !== undefined && only !== "etcd" && only !== "conclave") {
    throw new OptionsError(`--only must be etcd or conclave, got ${JSON.stringify(only)}`);
  }
  const seconds = positiveNumber(
    "--seconds",
    str("seconds") ?? env["KV_BENCH_SECONDS"],
    base.phaseTimeMs / 1000,
  );
  return {
    opsPerPhase: positive("--ops", str("ops") ?? env["KV_BENCH_OPS"], base.opsPerPhase),
    phaseTimeMs: Math.round(seconds * 1000),
    keySpace: positive("--keys", str("keys") ?? env["KV_BENCH_KEYS"], 10_000),
    valueBytes: 256,
    putInFlight: [1, 16, 64, 256],
    getInFlight: 64,
    watchers: 10,
    watchEvents: positive(
      "--watch-events",
      str("watch-events") ?? env["KV_BENCH_WATCH_EVENTS"],
      base.watchEvents,
    ),
    rssKeys: positive("--rss-keys", str("rss-keys") ?? env["KV_BENCH_RSS_KEYS"], base.rssKeys),
    systems: only === undefined ? ["etcd", "conclave"] : [only],
    profileArgs: values["profile"] === true ? ["--cpu-prof"] : [],
    keepDataDir: values["keep"] === true,
  };
}
