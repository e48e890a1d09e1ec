/**
 * The targets of issue #12, judged on the summaries of one bench run. Ratio
 * targets use the median per-round Conclave/etcd ratio; absolute targets use
 * Conclave's median value.
 */
import { FIGURE } from "./figures.js";
import type { FigureSummary } from "./stats.js";

export interface Target {
  readonly name: string;
  readonly figure: string;
  /** `ratio`: Conclave/etcd against the goal; `conclave`: Conclave's own value. */
  readonly kind: "ratio" | "conclave";
  readonly op: ">=" | "<=";
  readonly goal: number;
  readonly unit?: string;
  /**
   * A figure of how many keys (or leases) each system held: a ratio from a
   * Conclave that held fewer cannot show the target met (it can still show
   * it missed).
   */
  readonly heldFigure?: string;
}

export interface TargetCheck {
  readonly name: string;
  /** Median per-round Conclave/etcd ratio; null for absolute targets. */
  readonly ratio: number | null;
  /** Smallest and largest per-round ratio; null for absolute targets. */
  readonly spread: readonly [number, number] | null;
  /** What is compared with the goal: the ratio, or Conclave's value. */
  readonly value: number;
  readonly goal: string;
  /** null: not measured, or not conclusive. */
  readonly met: boolean | null;
}

const ratio = (name: string, figure: string, op: ">=" | "<=", goal: number): Target => ({
  name,
  figure,
  kind: "ratio",
  op,
  goal,
});

export const TARGETS: readonly Target[] = [
  ratio("put ops/s x64", FIGURE.putOps(64), ">=", 1.5),
  ratio("put ops/s x256", FIGURE.putOps(256), ">=", 1.5),
  ...[1, 16, 64, 256].map((n) => ratio(`server CPU per put x${n}`, FIGURE.putCpu(n), "<=", 1)),
  ratio("put p99 x1", FIGURE.putP99(1), "<=", 1),
  ratio("put p99 x256", FIGURE.putP99(256), "<=", 1),
  ratio("linearizable get ops/s x64", FIGURE.getOps, ">=", 2),
  { ...ratio("RSS per member, 100k keys", FIGURE.rssMb, "<=", 1), heldFigure: FIGURE.rssKeys },
  { ...ratio("RSS per member, 1M keys", FIGURE.bigRssMb, "<=", 1.5), heldFigure: FIGURE.bigKeys },
  {
    ...ratio("restart to serving, 1M keys", FIGURE.restartS, "<=", 1),
    heldFigure: FIGURE.bigKeys,
  },
  {
    name: "leases: log entries per keep-alive",
    figure: FIGURE.leaseEntriesPerKeepAlive,
    kind: "conclave",
    op: "<=",
    goal: 0,
  },
  { ...ratio("leases: leader CPU", FIGURE.leaseLeaderCpu, "<=", 1), heldFigure: FIGURE.leaseCount },
  {
    name: "snapshot: worst event-loop delay",
    figure: FIGURE.snapshotLoopDelayMs,
    kind: "conclave",
    op: "<=",
    goal: 50,
    unit: " ms",
  },
  {
    name: "snapshot: leader changes",
    figure: FIGURE.snapshotLeaderChanges,
    kind: "conclave",
    op: "<=",
    goal: 0,
  },
];

function goalText(t: Target): string {
  if (t.kind === "conclave" && t.op === "<=" && t.goal === 0) return "= 0";
  return `${t.op} ${t.goal}${t.unit ?? ""}`;
}

export function checkTargets(
  summaries: readonly FigureSummary[],
  targets: readonly Target[] = TARGETS,
): TargetCheck[] {
  const byName = new Map(summaries.map((s) => [s.name, s]));
  return targets.map((t) => {
    const s = byName.get(t.figure);
    const value = s === undefined ? Number.NaN : t.kind === "ratio" ? s.ratio : s.conclave;
    const passes = t.op === ">=" ? value >= t.goal : value <= t.goal;
    let met: boolean | null = Number.isFinite(value) ? passes : null;
    if (met === true && t.heldFigure !== undefined) {
      const held = byName.get(t.heldFigure);
      // Fewer keys or leases (or an unknown count) in Conclave: a pass proves nothing.
      if (held === undefined || !(held.conclave >= held.etcd)) met = null;
    }
    return {
      name: t.name,
      ratio: t.kind === "ratio" ? value : null,
      spread: t.kind === "ratio" && s !== undefined ? [s.ratioMin, s.ratioMax] : null,
      value,
      goal: goalText(t),
      met,
    };
  });
}
