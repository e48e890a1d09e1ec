/**
 * The side-by-side table (etcd, Conclave, Conclave/etcd ratio), the targets
 * checked against what was measured, and the one JSON line.
 */
import type { LoadResult } from "./load.js";
import type { SystemResult } from "./phases.js";

export interface Row {
  readonly label: string;
  readonly etcd: number;
  readonly conclave: number;
  readonly digits: number;
}

export interface TargetCheck {
  readonly target: string;
  readonly ratio: number;
  readonly goal: string;
  readonly met: boolean | null;
}

const MB = 1024 * 1024;
const nan = Number.NaN;

function pick<T>(result: SystemResult | undefined, f: (r: SystemResult) => T, fallback: T): T {
  return result === undefined ? fallback : f(result);
}

function putAt(r: SystemResult, inFlight: number): LoadResult | undefined {
  return r.puts.find((p) => p.inFlight === inFlight)?.result;
}

const meanRssMb = (r: SystemResult) =>
  r.rss.perNodeBytes.reduce((a, b) => a + b, 0) / r.rss.perNodeBytes.length / MB;
const maxRssMb = (r: SystemResult) => Math.max(...r.rss.perNodeBytes) / MB;

export function buildRows(etcd?: SystemResult, conclave?: SystemResult): Row[] {
  const rows: Row[] = [];
  const add = (label: string, digits: number, f: (r: SystemResult) => number) =>
    rows.push({ label, digits, etcd: pick(etcd, f, nan), conclave: pick(conclave, f, nan) });
  const levels = (etcd ?? conclave)?.puts.map((p) => p.inFlight) ?? [];
  for (const n of levels) {
    const at = (r: SystemResult) => putAt(r, n);
    add(`put x${n} ops/s`, 0, (r) => at(r)?.opsPerSecond ?? nan);
    add(`put x${n} p50 ms`, 2, (r) => at(r)?.p50Ms ?? nan);
    add(`put x${n} p99 ms`, 2, (r) => at(r)?.p99Ms ?? nan);
    add(`put x${n} server CPU s/1k ops`, 3, (r) => at(r)?.serverCpuSecondsPer1kOps ?? nan);
    add(`put x${n} client CPU s/1k ops`, 3, (r) => at(r)?.clientCpuSecondsPer1kOps ?? nan);
  }
  add("get x64 (linearizable) ops/s", 0, (r) => r.gets.opsPerSecond);
  add("get x64 p50 ms", 2, (r) => r.gets.p50Ms);
  add("get x64 p99 ms", 2, (r) => r.gets.p99Ms);
  add("get x64 server CPU s/1k ops", 3, (r) => r.gets.serverCpuSecondsPer1kOps);
  add("get x64 client CPU s/1k ops", 3, (r) => r.gets.clientCpuSecondsPer1kOps);
  add("watch events/s delivered (10 watchers)", 0, (r) => r.watch.eventsPerSecond);
  add("watch events delivered / expected", 3, (r) => r.watch.delivered / r.watch.expected);
  add("watch server CPU s/1k events", 3, (r) => r.watch.serverCpuSecondsPer1kEvents);
  add("keys before RSS read", 0, (r) => r.rss.keys);
  add("RSS per node MB (mean)", 1, meanRssMb);
  add("RSS per node MB (max)", 1, maxRssMb);
  add("machine load average, start", 1, (r) => r.loadAverage[0]);
  add("machine load average, end", 1, (r) => r.loadAverage[1]);
  return rows;
}

export function checkTargets(etcd?: SystemResult, conclave?: SystemResult): TargetCheck[] {
  const ratio = (f: (r: SystemResult) => number | undefined) => {
    if (etcd === undefined || conclave === undefined) return nan;
    return (f(conclave) ?? nan) / (f(etcd) ?? nan);
  };
  const check = (target: string, r: number, goal: string, ok: (x: number) => boolean) => ({
    target,
    ratio: r,
    goal,
    met: Number.isFinite(r) ? ok(r) : null,
  });
  const checks: TargetCheck[] = [
    check(
      "put ops/s x64",
      ratio((r) => putAt(r, 64)?.opsPerSecond),
      ">= 1.5",
      (x) => x >= 1.5,
    ),
    check(
      "put ops/s x256",
      ratio((r) => putAt(r, 256)?.opsPerSecond),
      ">= 1.5",
      (x) => x >= 1.5,
    ),
  ];
  for (const n of (etcd ?? conclave)?.puts.map((p) => p.inFlight) ?? []) {
    checks.push(
      check(
        `server CPU per put x${n}`,
        ratio((r) => putAt(r, n)?.serverCpuSecondsPer1kOps),
        "<= 1",
        (x) => x <= 1,
      ),
    );
  }
  checks.push(
    check(
      "put p99 x1",
      ratio((r) => putAt(r, 1)?.p99Ms),
      "<= 1",
      (x) => x <= 1,
    ),
    check(
      "linearizable get ops/s x64",
      ratio((r) => r.gets.opsPerSecond),
      ">= 2",
      (x) => x >= 2,
    ),
    rssCheck(etcd, conclave, ratio(meanRssMb)),
  );
  return checks;
}

function fmt(x: number, digits: number): string {
  if (!Number.isFinite(x)) return "-";
  return x.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

export function printTable(rows: readonly Row[], checks: readonly TargetCheck[]): void {
  const width = Math.max(...rows.map((r) => r.label.length), 20);
  const line = (cells: string[]) =>
    console.log(
      cells[0]!.padEnd(width) +
        cells
          .slice(1)
          .map((c) => c.padStart(12))
          .join(""),
    );
  line(["", "etcd", "conclave", "ratio"]);
  for (const r of rows) {
    line([r.label, fmt(r.etcd, r.digits), fmt(r.conclave, r.digits), fmt(r.conclave / r.etcd, 2)]);
  }
  console.log("\ntargets (Conclave/etcd):");
  for (const c of checks) {
    const verdict =
      c.met === null
        ? Number.isFinite(c.ratio)
          ? "inconclusive"
          : "not measured"
        : c.met
          ? "met"
          : "MISSED";
    console.log(
      `  ${c.target.padEnd(30)} ${fmt(c.ratio, 2).padStart(8)}  goal ${c.goal.padEnd(7)} ${verdict}`,
    );
  }
}

/** JSON has no NaN/Infinity: they become null. */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === "number" && !Number.isFinite(v) ? null : v,
  );
}

/** With fewer keys in Conclave than in etcd, a low ratio proves nothing; a high one still does. */
function rssCheck(etcd: SystemResult | undefined, conclave: SystemResult | undefined, r: number) {
  const fewerKeys =
    etcd !== undefined && conclave !== undefined && conclave.rss.keys < etcd.rss.keys;
  const met = !Number.isFinite(r) ? null : r > 2 ? false : fewerKeys ? null : true;
  return { target: "RSS per node (mean)", ratio: r, goal: "<= 2", met };
}
