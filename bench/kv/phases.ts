/**
 * The phases of one round, each run on one system at a time: a warm-up, puts
 * at each in-flight level, linearizable gets, watch fan-out and kept-alive
 * leases. The round runner alternates the systems phase by phase. Each phase
 * is bounded by count and time.
 */
import { FIGURE } from "./figures.js";
import { leasePhase } from "./lease-phase.js";
import { type LoadResult, runLoad } from "./load.js";
import type { KvBenchOptions } from "./options.js";
import type { RoundFigures } from "./stats.js";
import type { KvTarget } from "./target.js";
import { watchPhase } from "./watch-phase.js";

export interface Phase {
  readonly name: string;
  /** Runs on one system and returns the figures it measured (none for a warm-up). */
  run(target: KvTarget): Promise<RoundFigures>;
}

const WARMUP_OPS = 500;
const VALUE_SEED = 20_261_127;

/** Deterministic bytes (a seeded mulberry32 stream): values that do not compress to nothing. */
export function seededBytes(length: number, seed: number): Uint8Array {
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

export function logLoad(name: string, what: string, r: LoadResult): void {
  const errors = r.errors > 0 ? `, ${r.errors} errors (first: ${r.firstError})` : "";
  console.error(
    `  ${name} ${what}: ${r.ops} ops in ${(r.elapsedMs / 1000).toFixed(1)} s, ` +
      `${Math.round(r.opsPerSecond)}/s, p99 ${r.p99Ms.toFixed(2)} ms${errors}`,
  );
}

export function roundPhases(options: KvBenchOptions): Phase[] {
  const value = seededBytes(options.valueBytes, VALUE_SEED);
  const base = (target: KvTarget) => ({ serverPids: target.pids, maxMs: options.phaseTimeMs });
  const putOp = (target: KvTarget, offset: number) => (i: number) =>
    target.put(dataKey((offset + i) % options.keySpace), value);
  const phases: Phase[] = [
    {
      name: "warm-up",
      async run(target) {
        await runLoad({ ...base(target), inFlight: 16, maxOps: WARMUP_OPS, op: putOp(target, 0) });
        return {};
      },
    },
  ];
  for (const [n, inFlight] of options.putInFlight.entries()) {
    phases.push({
      name: `put x${inFlight}`,
      async run(target) {
        const r = await runLoad({
          ...base(target),
          inFlight,
          maxOps: options.opsPerPhase,
          op: putOp(target, n * 1_009),
        });
        logLoad(target.name, `put x${inFlight}`, r);
        return {
          [FIGURE.putOps(inFlight)]: r.opsPerSecond,
          [FIGURE.putP50(inFlight)]: r.p50Ms,
          [FIGURE.putP99(inFlight)]: r.p99Ms,
          [FIGURE.putCpu(inFlight)]: r.serverCpuSecondsPer1kOps,
          [FIGURE.putClientCpu(inFlight)]: r.clientCpuSecondsPer1kOps,
        };
      },
    });
  }
  phases.push(
    {
      name: `get x${options.getInFlight}`,
      async run(target) {
        const r = await runLoad({
          ...base(target),
          inFlight: options.getInFlight,
          maxOps: options.opsPerPhase,
          op: (i) => target.get(dataKey(i % options.keySpace)),
        });
        logLoad(target.name, `get x${options.getInFlight}`, r);
        return {
          [FIGURE.getOps]: r.opsPerSecond,
          [FIGURE.getP50]: r.p50Ms,
          [FIGURE.getP99]: r.p99Ms,
          [FIGURE.getCpu]: r.serverCpuSecondsPer1kOps,
          [FIGURE.getClientCpu]: r.clientCpuSecondsPer1kOps,
        };
      },
    },
    {
      name: "watch",
      async run(target) {
        const w = await watchPhase(target, options, value);
        console.error(
          `  ${target.name} watch: ${w.delivered}/${w.expected} events to ${w.watchers} ` +
            `watchers, ${Math.round(w.eventsPerSecond)} events/s`,
        );
        return {
          [FIGURE.watchEventsPerS]: w.eventsPerSecond,
          [FIGURE.watchDeliveredShare]: w.delivered / w.expected,
          [FIGURE.watchCpu]: w.serverCpuSecondsPer1kEvents,
        };
      },
    },
    { name: "leases", run: (target) => leasePhase(target, options) },
  );
  return phases;
}
