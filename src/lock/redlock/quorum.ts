/**
 * The Redlock decision, as a pure function: a lease counts only if a majority
 * of independent instances granted it AND time is left after subtracting the
 * time the attempt took and the allowance for clock drift between machines.
 */
export interface QuorumInput {
  /** Instances that granted (or renewed) the lease. */
  readonly granted: number;
  /** Instances that failed to answer. */
  readonly failed: number;
  readonly total: number;
  readonly ttlMs: number;
  /** Local time from sending the first request to the last reply. */
  readonly elapsedMs: number;
  readonly driftMs: number;
}

export type QuorumVerdict =
  /** Held: valid for `validityMs` more from the last reply. */
  | { readonly outcome: "held"; readonly validityMs: number }
  /** Other holders have (part of) it. */
  | { readonly outcome: "contended" }
  /** A majority granted, but elapsed + drift used up the TTL: as good as expired. */
  | { readonly outcome: "too-slow" }
  /** So many instances failed that no majority can be reached. */
  | { readonly outcome: "unavailable" };

export function quorumOf(total: number): number {
  return Math.floor(total / 2) + 1;
}

/** Clock-drift allowance for a lease: a fraction of the TTL plus a fixed margin. */
export function driftAllowanceMs(
  ttlMs: number,
  driftFactor: number,
  driftMarginMs: number,
): number {
  return Math.ceil(ttlMs * driftFactor) + driftMarginMs;
}

export function judgeQuorum(input: QuorumInput): QuorumVerdict {
  const quorum = quorumOf(input.total);
  if (input.granted >= quorum) {
    const validityMs = input.ttlMs - input.elapsedMs - input.driftMs;
    return validityMs > 0 ? { outcome: "held", validityMs } : { outcome: "too-slow" };
  }
  if (input.total - input.failed < quorum) return { outcome: "unavailable" };
  return { outcome: "contended" };
}
