/**
 * The 1 MiB-value load that makes Conclave snapshot often: puts of 1 MiB
 * values at 2 in flight for `options.snapshotMs`, over a few keys. Measured:
 * put rate, p99 and failures; on Conclave the worst event-loop delay of any
 * member (its `conclave_event_loop_delay_max_seconds` gauge, the max since
 * the previous scrape, scraped every second); on both systems the leader
 * changes, as the growth of the highest term seen by polling every member.
 * Beside it, on both systems, the worst loop delay of an idle Node process
 * (see idle-loop.ts): what the machine's scheduler alone costs an event loop
 * under this load.
 */
import { startIdleLoopProbe } from "../support/idle-loop.js";
import { FIGURE } from "./figures.js";
import { runLoad } from "./load.js";
import { metricSum } from "./member-http.js";
import { highestTerm } from "./members.js";
import type { KvBenchOptions } from "./options.js";
import { logLoad, seededBytes } from "./phases.js";
import type { RoundFigures } from "./stats.js";
import type { KvTarget } from "./target.js";

const VALUE_BYTES = 1024 * 1024;
const IN_FLIGHT = 2;
const KEYS = 8;
const POLL_EVERY_MS = 1_000;
const SCRAPE_TIMEOUT_MS = 2_000;
export const LOOP_DELAY_METRIC = "conclave_event_loop_delay_max_seconds";

/** The worst loop delay any member reports (max since its previous scrape); NaN if none has it. */
async function worstLoopDelaySeconds(target: KvTarget): Promise<number> {
  const values = await Promise.all(
    target.endpoints.map((_, i) =>
      target
        .metricsText(i, SCRAPE_TIMEOUT_MS)
        .then((text) => metricSum(text, LOOP_DELAY_METRIC))
        .catch(() => Number.NaN),
    ),
  );
  const finite = values.filter((v) => Number.isFinite(v));
  return finite.length === 0 ? Number.NaN : Math.max(...finite);
}

export async function snapshotPhase(
  target: KvTarget,
  options: KvBenchOptions,
): Promise<RoundFigures> {
  const value = seededBytes(VALUE_BYTES, 7);
  // Started before the poller, which a failed start would leave running.
  const idle = await startIdleLoopProbe();
  const termBefore = await highestTerm(target);
  // This scrape resets each member's gauge: what follows is the phase's alone.
  await worstLoopDelaySeconds(target);
  let worstDelayS = Number.NaN;
  let highestTermSeen = termBefore;
  let polling = true;
  const poll = async () => {
    const [delay, term] = await Promise.all([worstLoopDelaySeconds(target), highestTerm(target)]);
    if (Number.isFinite(delay))
      worstDelayS = Number.isFinite(worstDelayS) ? Math.max(worstDelayS, delay) : delay;
    if (Number.isFinite(term)) highestTermSeen = Math.max(highestTermSeen, term);
  };
  const poller = (async () => {
    while (polling) {
      await new Promise((resolve) => setTimeout(resolve, POLL_EVERY_MS));
      await poll();
    }
  })();
  let load: Awaited<ReturnType<typeof runLoad>>;
  let idleWorstMs = Number.NaN;
  try {
    load = await runLoad({
      serverPids: [],
      inFlight: IN_FLIGHT,
      // The time bound ends the phase; the count only bounds the latency buffer.
      maxOps: Math.ceil(options.snapshotMs / 1000) * 1_000,
      maxMs: options.snapshotMs,
      op: (i) => target.put(`bench/s/${i % KEYS}`, value),
    });
  } finally {
    polling = false;
    await poller;
    idleWorstMs = await idle.stop();
  }
  await poll();
  logLoad(target.name, "1 MiB puts x2", load);
  const leaderChanges = highestTermSeen - termBefore;
  console.error(
    `  ${target.name} snapshot load: worst loop delay ${(worstDelayS * 1000).toFixed(0)} ms, ` +
      `${leaderChanges} leader changes; an idle process's worst loop delay ${idleWorstMs.toFixed(0)} ms`,
  );
  return {
    [FIGURE.snapshotPutsPerS]: load.opsPerSecond,
    [FIGURE.snapshotP99Ms]: load.p99Ms,
    [FIGURE.snapshotErrors]: load.errors,
    [FIGURE.snapshotLoopDelayMs]: worstDelayS * 1000,
    [FIGURE.snapshotLeaderChanges]: leaderChanges,
    [FIGURE.snapshotIdleLoopDelayMs]: idleWorstMs,
  };
}
