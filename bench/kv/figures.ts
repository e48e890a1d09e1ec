/**
 * The names of every figure the kv bench reports, in one place: phases
 * record values under these names, and the table, the JSON line and the
 * targets read them back.
 */

export const FIGURE = {
  putOps: (n: number) => `put x${n} ops/s`,
  putP50: (n: number) => `put x${n} p50 ms`,
  putP99: (n: number) => `put x${n} p99 ms`,
  putCpu: (n: number) => `put x${n} server CPU s/1k ops`,
  putClientCpu: (n: number) => `put x${n} client CPU s/1k ops`,
  getOps: "get x64 (linearizable) ops/s",
  getP50: "get x64 p50 ms",
  getP99: "get x64 p99 ms",
  getCpu: "get x64 server CPU s/1k ops",
  getClientCpu: "get x64 client CPU s/1k ops",
  watchEventsPerS: "watch events/s delivered (10 watchers)",
  watchDeliveredShare: "watch events delivered / expected",
  watchCpu: "watch server CPU s/1k events",
  leaseCount: "leases kept alive",
  leaseKeepAlivesPerS: "leases keep-alives answered/s",
  leaseLeaderCpu: "leases leader CPU s/s",
  leaseLeaderFsyncs: "leases leader fsyncs/s",
  leaseEntriesPerKeepAlive: "leases log entries per keep-alive",
  rssKeys: "keys before RSS read",
  rssMb: "RSS per member MB (mean)",
  rssMaxMb: "RSS per member MB (max)",
  bigKeys: "big: keys before reading",
  bigRssMb: "big: RSS per member MB (mean)",
  bigDataDirMb: "big: data dir per member MB (mean)",
  restartS: "big: restart to serving s",
  snapshotPutsPerS: "snapshot: 1 MiB puts/s (2 in flight)",
  snapshotP99Ms: "snapshot: put p99 ms",
  snapshotErrors: "snapshot: failed puts",
  snapshotLoopDelayMs: "snapshot: worst event-loop delay ms",
  snapshotLeaderChanges: "snapshot: leader changes",
  snapshotIdleLoopDelayMs: "snapshot: idle process worst loop delay ms",
} as const;

/** Decimal places a figure is printed with, from its name's unit. */
export function digitsOf(name: string): number {
  const counts = ["ops/s", "events/s", "keys", "kept alive", "failed puts"];
  if (counts.some((c) => name.includes(c)) && !name.includes("s/1k")) return 0;
  if (name.includes("s/1k")) return 3;
  if (name.includes(" MB")) return 1;
  return 2;
}
