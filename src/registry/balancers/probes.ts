/** Probe keys measured by the hash kinds' update reports (default count). */
export const DEFAULT_PROBE_KEY_COUNT = 4096;
export const MAX_PROBE_KEY_COUNT = 1 << 20;

/**
 * A fixed set of keys whose owners an update compares before and after. The
 * same names everywhere, so reports from two processes are comparable.
 */
export function probeKeys(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `probe-${i}`);
}

/** The fraction of positions where two owner lists differ. */
export function changedFraction(before: readonly string[], after: readonly string[]): number {
  if (before.length === 0) return 0;
  let moved = 0;
  for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) moved++;
  return moved / before.length;
}
