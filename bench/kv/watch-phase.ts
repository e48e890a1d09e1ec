/**
 * Watch fan-out: `watchers` watchers on one prefix, a writer puts under it,
 * and every delivered event is counted. Events/s delivered is the total
 * received by all watchers over the time from the first put to the last
 * event delivered. Bounded: the writer by count and time, the drain by time.
 */
import { totalCpuSeconds } from "../support/proc-stats.js";
import { runLoad } from "./load.js";
import type { KvBenchOptions } from "./options.js";
import type { KvTarget, Watching } from "./target.js";

export interface WatchResult {
  readonly watchers: number;
  readonly puts: number;
  readonly expected: number;
  readonly delivered: number;
  readonly elapsedMs: number;
  readonly eventsPerSecond: number;
  readonly writerOpsPerSecond: number;
  /** Server CPU per 1,000 delivered events (writer's puts included). */
  readonly serverCpuSecondsPer1kEvents: number;
}

const PREFIX = "bench/w/";
const PROBE_KEY = `${PREFIX}probe`;
const PROBE_TIMEOUT_MS = 10_000;
const PROBE_SETTLE_MS = 300;
const WRITER_IN_FLIGHT = 64;

export async function watchPhase(
  target: KvTarget,
  options: KvBenchOptions,
  value: Uint8Array,
): Promise<WatchResult> {
  let delivered = 0;
  const seenBy = new Array<number>(options.watchers).fill(0);
  let lastEventAt = 0;
  let onProgress: (() => void) | undefined;
  const watchings: Watching[] = [];
  try {
    for (let i = 0; i < options.watchers; i++) {
      watchings.push(
        await target.watchPrefix(PREFIX, i, (count) => {
          seenBy[i] = (seenBy[i] ?? 0) + count;
          delivered += count;
          lastEventAt = performance.now();
          onProgress?.();
        }),
      );
    }
    await confirmLive(target, value, () => seenBy.every((n) => n > 0));
    // Let late copies of earlier probes arrive before counting starts.
    await new Promise((resolve) => setTimeout(resolve, PROBE_SETTLE_MS));
    delivered = 0;
    lastEventAt = 0;
    const cpuBefore = totalCpuSeconds(target.pids);
    const started = performance.now();
    const writer = await runLoad({
      serverPids: [],
      inFlight: WRITER_IN_FLIGHT,
      maxOps: options.watchEvents,
      maxMs: options.phaseTimeMs,
      op: (i) => target.put(`${PREFIX}${String(i % 1_000).padStart(4, "0")}`, value),
    });
    const expected = writer.ops * options.watchers;
    // Drain: wait (bounded) until every watcher has seen every put.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.phaseTimeMs);
      onProgress = () => {
        if (delivered >= expected) {
          clearTimeout(timer);
          resolve();
        }
      };
      onProgress();
    });
    onProgress = undefined;
    const cpuAfter = totalCpuSeconds(target.pids);
    const elapsedMs = Math.max(lastEventAt - started, 1);
    return {
      watchers: options.watchers,
      puts: writer.ops,
      expected,
      delivered,
      elapsedMs,
      eventsPerSecond: delivered / (elapsedMs / 1000),
      writerOpsPerSecond: writer.opsPerSecond,
      serverCpuSecondsPer1kEvents:
        delivered === 0 ? Number.NaN : ((cpuAfter - cpuBefore) / delivered) * 1000,
    };
  } finally {
    await Promise.all(watchings.map((w) => w.stop().catch(() => undefined)));
  }
}

/** Puts a probe key until every watcher has seen an event (bounded): each watch is live. */
async function confirmLive(target: KvTarget, value: Uint8Array, allSeen: () => boolean) {
  const deadline = performance.now() + PROBE_TIMEOUT_MS;
  while (performance.now() < deadline) {
    await target.put(PROBE_KEY, value);
    const roundEnd = Math.min(deadline, performance.now() + 500);
    while (performance.now() < roundEnd && !allSeen()) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (allSeen()) return;
  }
  throw new Error(`watchers not live after ${PROBE_TIMEOUT_MS} ms of probe puts`);
}
