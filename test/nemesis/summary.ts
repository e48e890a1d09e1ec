/** The one result line of `npm run nemesis`, summed over its runs. */
import type { FaultKind } from "./faults.js";
import type { RunReport } from "./run.js";

export interface NemesisSummary {
  readonly runs: number;
  readonly members: number;
  readonly seconds: number;
  readonly seed: number;
  readonly ops: number;
  readonly okOps: number;
  readonly unknownOps: number;
  readonly faults: number;
  readonly faultsByKind: Partial<Record<FaultKind, number>>;
  /** Runs whose history is not linearizable. */
  readonly violations: number;
  readonly lostAcknowledgedWrites: number;
  /** Acknowledged writes that had to survive and were looked for. */
  readonly checkedWrites: number;
  /** Runs whose check ran out of budget: neither pass nor fail. */
  readonly inconclusive: number;
  /** Runs that could not finish (a member did not restart, the final reads failed). */
  readonly failedRuns: number;
  readonly skipped: Partial<Record<FaultKind, string>>;
  readonly historyFiles: string[];
}

export function summarize(
  settings: { runs: number; members: number; seconds: number; seed: number },
  reports: readonly RunReport[],
  failedRuns: number,
): NemesisSummary {
  const faultsByKind: Partial<Record<FaultKind, number>> = {};
  for (const r of reports) {
    for (const f of r.faults) faultsByKind[f.kind] = (faultsByKind[f.kind] ?? 0) + 1;
  }
  const sum = (f: (r: RunReport) => number) => reports.reduce((s, r) => s + f(r), 0);
  return {
    ...settings,
    ops: sum((r) => r.ops),
    okOps: sum((r) => r.okOps),
    unknownOps: sum((r) => r.unknownOps),
    faults: sum((r) => r.faults.length),
    faultsByKind,
    violations: reports.filter((r) => r.verdict.lincheck === "illegal").length,
    lostAcknowledgedWrites: sum((r) => r.verdict.lostAcknowledgedWrites.length),
    checkedWrites: sum((r) => r.verdict.checkedWrites),
    inconclusive: reports.filter((r) => r.verdict.lincheck === "unknown").length,
    failedRuns,
    skipped: Object.assign({}, ...reports.map((r) => r.skipped)),
    historyFiles: reports.flatMap((r) => (r.historyFile === undefined ? [] : [r.historyFile])),
  };
}

/** Anything but a clean pass: a violation, a lost write, an unfinished run or check. */
export function failed(s: NemesisSummary): boolean {
  return s.violations > 0 || s.lostAcknowledgedWrites > 0 || s.inconclusive > 0 || s.failedRuns > 0;
}
