/**
 * The readable table (each system's median, the median per-round ratio and
 * its spread), the targets, and the one JSON line.
 */
import { cpus } from "node:os";
import { digitsOf } from "./figures.js";
import type { KvBenchOptions } from "./options.js";
import type { InterleavedResult } from "./rounds.js";
import { type FigureSummary, figureNames, type RoundSample, summarize } from "./stats.js";
import type { TargetCheck } from "./targets.js";

/** Round figures summarised over the rounds, once-only figures over their one sample. */
export function summarizeAll(rounds: readonly RoundSample[], once: RoundSample): FigureSummary[] {
  return [
    ...figureNames(rounds).map((name) => summarize(name, rounds)),
    ...figureNames([once]).map((name) => summarize(name, [once])),
  ];
}

export function fmt(x: number | null, digits: number): string {
  if (x === null || !Number.isFinite(x)) return "-";
  return x.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

export function verdict(check: TargetCheck): string {
  if (check.met === true) return "met";
  if (check.met === false) return "MISSED";
  return Number.isFinite(check.value) ? "inconclusive" : "not measured";
}

export function printTable(summaries: readonly FigureSummary[], checks: readonly TargetCheck[]) {
  const widths = [44, 12, 12, 8, 14];
  const line = (cells: string[]) =>
    console.log(
      cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" "),
    );
  line(["figure (median)", "etcd", "conclave", "ratio", "ratio spread"]);
  for (const s of summaries) {
    const d = digitsOf(s.name);
    const spread =
      s.ratioRounds > 1
        ? `${fmt(s.ratioMin, 2)}..${fmt(s.ratioMax, 2)}`
        : s.ratioRounds === 1
          ? "(1 round)"
          : "";
    line([s.name, fmt(s.etcd, d), fmt(s.conclave, d), fmt(s.ratio, 2), spread]);
  }
  console.log("\ntargets (Conclave/etcd ratio, or Conclave's value where the goal is absolute):");
  for (const c of checks) {
    const spread = c.spread === null ? "" : ` (${fmt(c.spread[0], 2)}..${fmt(c.spread[1], 2)})`;
    console.log(
      `  ${c.name.padEnd(36)} ${fmt(c.value, 2).padStart(8)}${spread.padEnd(14)} goal ${c.goal.padEnd(9)} ${verdict(c)}`,
    );
  }
}

/** JSON has no NaN/Infinity: they become null. */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === "number" && !Number.isFinite(v) ? null : v,
  );
}

/** The readable report of an interleaved run: what ran, the figures, the targets and the failures. */
export function printRunReport(
  what: string,
  options: KvBenchOptions,
  result: InterleavedResult,
  summaries: readonly FigureSummary[],
  checks: readonly TargetCheck[],
): void {
  console.log(
    `\n${what}, both up at once, phases interleaved, ${options.rounds} round(s); ` +
      `${options.valueBytes}-byte values, ${options.keySpace} keys, ` +
      `${options.opsPerPhase} ops or ${options.phaseTimeMs / 1000} s per phase; ` +
      `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}; ` +
      `load average ${result.loadAverages.map((l) => l.toFixed(1)).join(" → ")}\n`,
  );
  printTable(summaries, checks);
  for (const f of result.failures) {
    console.log(`failed: round ${f.round}, ${f.system} ${f.phase}: ${f.error}`);
  }
}
