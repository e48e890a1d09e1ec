/**
 * A closed-loop load generator: `inFlight` workers each issue the next
 * operation as soon as their previous one answers. Bounded by count AND time:
 * stops at `maxOps` operations or `maxMs` milliseconds, whichever comes first.
 */
import { totalCpuSeconds } from "../support/proc-stats.js";

export interface LoadResult {
  readonly ops: number;
  readonly errors: number;
  readonly elapsedMs: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** utime+stime of the server processes, summed over them, per 1,000 completed ops. */
  readonly serverCpuSecondsPer1kOps: number;
  /** CPU of this load-generating process per 1,000 ops: shows when the client is the limit. */
  readonly clientCpuSecondsPer1kOps: number;
  readonly firstError: string | undefined;
}

export interface LoadPlan {
  readonly inFlight: number;
  readonly maxOps: number;
  readonly maxMs: number;
  /** Server PIDs whose CPU time is taken before and after. */
  readonly serverPids: readonly number[];
  readonly op: (i: number) => Promise<void>;
}

/** Errors beyond this share of attempts end the phase early: the figures would mean nothing. */
const MAX_ERROR_SHARE = 0.1;
const MIN_ERRORS_BEFORE_GIVING_UP = 20;

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const latencies = new Float64Array(plan.maxOps);
  let issued = 0;
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  const cpuBefore = totalCpuSeconds(plan.serverPids);
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + plan.maxMs;
  const giveUp = () =>
    errors >= MIN_ERRORS_BEFORE_GIVING_UP && errors > MAX_ERROR_SHARE * (completed + errors);

  const worker = async () => {
    while (issued < plan.maxOps && performance.now() < deadline && !giveUp()) {
      const i = issued++;
      const t0 = performance.now();
      try {
        await plan.op(i);
        latencies[completed++] = performance.now() - t0;
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: plan.inFlight }, worker));
  const elapsedMs = performance.now() - started;
  const cpuAfter = totalCpuSeconds(plan.serverPids);
  const client = process.cpuUsage(clientBefore);
  const per1k = (seconds: number) => (completed === 0 ? Number.NaN : (seconds / completed) * 1000);
  const sorted = latencies.subarray(0, completed).sort();
  return {
    ops: completed,
    errors,
    elapsedMs,
    opsPerSecond: completed / (elapsedMs / 1000),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    serverCpuSecondsPer1kOps: per1k(cpuAfter - cpuBefore),
    clientCpuSecondsPer1kOps: per1k((client.user + client.system) / 1e6),
    firstError,
  };
}
