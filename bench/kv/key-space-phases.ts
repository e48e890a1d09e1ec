/**
 * The phases that grow the key space, run once per system after the rounds
 * (a key count only grows): RSS per member after `rssKeys` keys, then after
 * `bigKeys` keys RSS, data dir size and restart-to-serving time (every
 * member stopped, started again, and timed until a linearizable get
 * answers). Fills are bounded by count and time; the figures say how many
 * keys were really written.
 */
import { allocatedBytes } from "../support/dir-size.js";
import { rssBytes } from "../support/proc-stats.js";
import { waitFor } from "../support/wait.js";
import { FIGURE } from "./figures.js";
import { runLoad } from "./load.js";
import { linearizableGet } from "./member-http.js";
import type { KvBenchOptions } from "./options.js";
import { dataKey, logLoad, seededBytes } from "./phases.js";
import type { RoundFigures } from "./stats.js";
import type { KvTarget, RunningCluster } from "./target.js";

const MB = 1024 * 1024;
const FILL_IN_FLIGHT = 256;
/** The big fill stops short below this rate rather than run for hours. */
const BIG_FILL_MIN_PUTS_PER_S = 400;
const RESTART_TIMEOUT_MS = 300_000;
const PROBE_TIMEOUT_MS = 1_000;
const PROBE_EVERY_MS = 50;
const VALUE_SEED = 1_000_003;

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Puts keys `from`..`to`-1 (256-byte values); returns how many were written. */
async function fill(
  target: KvTarget,
  options: KvBenchOptions,
  from: number,
  to: number,
  maxMs: number,
): Promise<number> {
  const value = seededBytes(options.valueBytes, VALUE_SEED);
  const count = Math.max(0, to - from);
  if (count === 0) return 0;
  const r = await runLoad({
    serverPids: [],
    inFlight: FILL_IN_FLIGHT,
    maxOps: count,
    maxMs,
    op: (i) => target.put(dataKey(from + i), value),
  });
  logLoad(target.name, `fill to ${to} keys`, r);
  return r.ops;
}

/** Fills the key space to `rssKeys` keys and reads each member's RSS. */
export async function rssPhase(target: KvTarget, options: KvBenchOptions): Promise<RoundFigures> {
  // Filling is the slowest step; it gets more time so both systems reach the same key count.
  const written = await fill(
    target,
    options,
    options.keySpace,
    options.rssKeys,
    options.phaseTimeMs * 12,
  );
  const rss = target.pids.map((pid) => rssBytes(pid) / MB);
  return {
    [FIGURE.rssKeys]: Math.min(options.keySpace, options.rssKeys) + written,
    [FIGURE.rssMb]: mean(rss),
    [FIGURE.rssMaxMb]: Math.max(...rss),
  };
}

/**
 * Fills the key space from `keysHeld` keys (the RSS phase's) to `bigKeys`,
 * reads RSS and data dir sizes, then restarts every member and times it.
 */
export async function bigKeysPhase(
  cluster: RunningCluster,
  options: KvBenchOptions,
  keysHeld: number,
): Promise<RoundFigures> {
  const { target } = cluster;
  const from = Math.max(options.rssKeys, options.keySpace);
  const toWrite = Math.max(0, options.bigKeys - from);
  const maxMs = Math.max(options.phaseTimeMs * 12, (toWrite / BIG_FILL_MIN_PUTS_PER_S) * 1000);
  const written = await fill(target, options, from, options.bigKeys, maxMs);
  const rss = target.pids.map((pid) => rssBytes(pid) / MB);
  const dirs = target.dataDirs.map((dir) => allocatedBytes(dir) / MB);
  const restartS = (await restartToServing(cluster)) / 1000;
  console.error(
    `  ${target.name} big: ${keysHeld + written} keys, RSS ${mean(rss).toFixed(0)} MB, ` +
      `data dir ${mean(dirs).toFixed(0)} MB per member, restart to serving ${restartS.toFixed(2)} s`,
  );
  return {
    [FIGURE.bigKeys]: keysHeld + written,
    [FIGURE.bigRssMb]: mean(rss),
    [FIGURE.bigDataDirMb]: mean(dirs),
    [FIGURE.restartS]: restartS,
  };
}

/**
 * Stops every member, starts them again and returns the milliseconds from
 * the start until a linearizable get answers on any member. Then waits
 * (bounded) until the target's own client is served again.
 */
async function restartToServing(cluster: RunningCluster): Promise<number> {
  const { target } = cluster;
  await cluster.stop();
  const started = performance.now();
  cluster.startAgain();
  let servedAfterMs = Number.NaN;
  await waitFor(
    `${target.name} serving after restart`,
    RESTART_TIMEOUT_MS,
    async () => {
      const answers = await Promise.all(
        target.endpoints.map((e) =>
          linearizableGet(e, dataKey(0), PROBE_TIMEOUT_MS).then(
            () => true,
            () => false,
          ),
        ),
      );
      if (answers.some(Boolean)) servedAfterMs = performance.now() - started;
      return answers.some(Boolean);
    },
    PROBE_EVERY_MS,
  );
  await waitFor(`${target.name} client served after restart`, 60_000, async () =>
    target.get(dataKey(0)).then(
      () => true,
      () => false,
    ),
  );
  return servedAfterMs;
}
