/**
 * The measured phases, run in order against one started cluster: puts at each
 * in-flight level, linearizable gets, watch fan-out, then RSS after filling
 * the key space. Each phase is bounded by count and time.
 */
import { loadavg } from "node:os";
import { rssBytes } from "../support/proc-stats.js";
import { type LoadResult, runLoad } from "./load.js";
import type { KvBenchOptions, SystemName } from "./options.js";
import type { KvTarget } from "./target.js";
import { failedWatch, type WatchResult, watchPhase } from "./watch-phase.js";

export interface SystemResult {
  readonly name: SystemName;
  readonly puts: ReadonlyArray<{ readonly inFlight: number; readonly result: LoadResult }>;
  readonly gets: LoadResult;
  readonly watch: WatchResult;
  readonly rss: {
    readonly keys: number;
    readonly fillErrors: number;
    readonly perNodeBytes: number[];
  };
  /** 1-minute load average of the machine before and after: other work skews every figure. */
  readonly loadAverage: readonly [number, number];
}

const WARMUP_OPS = 500;

function seededBytes(length: number, seed: number): Uint8Array {
  let a = seed;
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    bytes[i] = (t ^ (t >>> 14)) & 0xff;
  }
  return bytes;
}

export const dataKey = (i: number) => `bench/k/${String(i).padStart(7, "0")}`;

function log(name: string, what: string, r: LoadResult): void {
  const errors = r.errors > 0 ? `, ${r.errors} errors (first: ${r.firstError})` : "";
  console.error(
    `  ${name} ${what}: ${r.ops} ops in ${(r.elapsedMs / 1000).toFixed(1)} s, ` +
      `${Math.round(r.opsPerSecond)}/s, p99 ${r.p99Ms.toFixed(2)} ms${errors}`,
  );
}

export async function runPhases(target: KvTarget, options: KvBenchOptions): Promise<SystemResult> {
  const loadBefore = loadavg()[0]!;
  const value = seededBytes(options.valueBytes, 20_261_127);
  const base = { serverPids: target.pids, maxMs: options.phaseTimeMs };
  const putOp = (offset: number) => (i: number) =>
    target.put(dataKey((offset + i) % options.keySpace), value);

  await runLoad({ ...base, inFlight: 16, maxOps: WARMUP_OPS, op: putOp(0) });

  const puts: Array<{ inFlight: number; result: LoadResult }> = [];
  for (const [n, inFlight] of options.putInFlight.entries()) {
    const result = await runLoad({
      ...base,
      inFlight,
      maxOps: options.opsPerPhase,
      op: putOp(n * 1_009),
    });
    log(target.name, `put x${inFlight}`, result);
    puts.push({ inFlight, result });
  }

  const gets = await runLoad({
    ...base,
    inFlight: options.getInFlight,
    maxOps: options.opsPerPhase,
    op: (i) => target.get(dataKey(i % options.keySpace)),
  });
  log(target.name, `get x${options.getInFlight}`, gets);

  // A system without working watches still gets its other figures.
  const watch = await watchPhase(target, options, value).catch(
    (err: unknown): WatchResult => failedWatch(options.watchers, err),
  );
  console.error(
    `  ${target.name} watch: ${watch.delivered}/${watch.expected} events to ${watch.watchers} ` +
      `watchers, ${Math.round(watch.eventsPerSecond)} events/s${watch.error ? ` (${watch.error})` : ""}`,
  );

  // Fill keys keySpace..rssKeys-1 so the bench/k/ space holds rssKeys keys.
  const fillCount = Math.max(0, options.rssKeys - options.keySpace);
  const fill = await runLoad({
    ...base,
    inFlight: 256,
    maxOps: fillCount,
    // Filling is the slowest step; it gets more time so both systems reach the same key count.
    maxMs: options.phaseTimeMs * 12,
    op: (i) => target.put(dataKey(options.keySpace + i), value),
  });
  if (fillCount > 0) log(target.name, "fill", fill);
  const perNodeBytes = target.pids.map((pid) => rssBytes(pid));
  return {
    name: target.name,
    puts,
    gets,
    watch,
    rss: { keys: options.keySpace + fill.ops, fillErrors: fill.errors, perNodeBytes },
    loadAverage: [loadBefore, loadavg()[0]!],
  };
}
