/** The registry bench's readable table: each system's median, the median per-round ratio and its spread. */
import { fmt } from "../kv/report.js";
import type { FigureSummary } from "../kv/stats.js";
import { digitsOf } from "./figures.js";

export function printFigures(summaries: readonly FigureSummary[]): void {
  const widths = [44, 12, 12, 8, 14];
  const line = (cells: string[]) =>
    console.log(
      cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" "),
    );
  line(["figure (median over rounds)", "etcd", "conclave", "ratio", "ratio spread"]);
  for (const s of summaries) {
    const d = digitsOf(s.name);
    // A difference from the TTL can be negative or near 0: its ratio says nothing.
    if (s.name.includes("after TTL")) {
      line([s.name, fmt(s.etcd, d), fmt(s.conclave, d), "-", ""]);
      continue;
    }
    const spread =
      s.ratioRounds > 1
        ? `${fmt(s.ratioMin, 2)}..${fmt(s.ratioMax, 2)}`
        : s.ratioRounds === 1
          ? "(1 round)"
          : "";
    line([s.name, fmt(s.etcd, d), fmt(s.conclave, d), fmt(s.ratio, 2), spread]);
  }
}
