/**
 * Summaries over rounds: each system's median of a figure, and the median of
 * the per-round Conclave/etcd ratios with their spread. A ratio is taken
 * within one round, where both systems ran phase by phase under the same
 * machine load, and only then summarised: the median of ratios resists one
 * disturbed round where a ratio of medians would mix rounds.
 */

/** Figure name → value measured for one system in one round (NaN: not measured). */
export type RoundFigures = Readonly<Record<string, number>>;

export interface RoundSample {
  readonly etcd?: RoundFigures;
  readonly conclave?: RoundFigures;
}

export interface FigureSummary {
  readonly name: string;
  /** Medians over the rounds in which the figure was measured (NaN when never). */
  readonly etcd: number;
  readonly conclave: number;
  /** Median of the per-round Conclave/etcd ratios. */
  readonly ratio: number;
  /** Smallest and largest per-round ratio. */
  readonly ratioMin: number;
  readonly ratioMax: number;
  /** Rounds that gave a ratio. */
  readonly ratioRounds: number;
}

/** The median of the finite values (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Conclave/etcd, or NaN when either side is missing or etcd's is 0 (no ratio exists). */
export function ratioOf(etcd: number | undefined, conclave: number | undefined): number {
  if (etcd === undefined || conclave === undefined) return Number.NaN;
  if (!Number.isFinite(etcd) || !Number.isFinite(conclave) || etcd === 0) return Number.NaN;
  return conclave / etcd;
}

export function summarize(name: string, rounds: readonly RoundSample[]): FigureSummary {
  const etcd = rounds.map((r) => r.etcd?.[name] ?? Number.NaN);
  const conclave = rounds.map((r) => r.conclave?.[name] ?? Number.NaN);
  const ratios = rounds
    .map((r) => ratioOf(r.etcd?.[name], r.conclave?.[name]))
    .filter((x) => Number.isFinite(x));
  return {
    name,
    etcd: median(etcd),
    conclave: median(conclave),
    ratio: median(ratios),
    ratioMin: ratios.length === 0 ? Number.NaN : Math.min(...ratios),
    ratioMax: ratios.length === 0 ? Number.NaN : Math.max(...ratios),
    ratioRounds: ratios.length,
  };
}

/** Every figure named in any round, in first-seen order. */
export function figureNames(rounds: readonly RoundSample[]): string[] {
  const names = new Set<string>();
  for (const r of rounds) {
    for (const n of Object.keys(r.etcd ?? {})) names.add(n);
    for (const n of Object.keys(r.conclave ?? {})) names.add(n);
  }
  return [...names];
}

/** Round `round` (0-based) starts with etcd when even, with Conclave when odd. */
export function systemOrder<T extends string>(systems: readonly T[], round: number): T[] {
  return round % 2 === 0 ? [...systems] : [...systems].reverse();
}
