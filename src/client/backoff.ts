/** A number in [0, 1); injectable so tests can seed it. */
export type RandomSource = () => number;

export interface BackoffOptions {
  /** The first retry waits up to this long. */
  readonly baseMs?: number;
  /** No wait is longer than this. */
  readonly maxMs?: number;
}

/**
 * "Full jitter": a uniformly random wait up to an exponentially growing cap,
 * so clients that failed together do not retry together.
 */
export function backoffDelayMs(
  retry: number,
  random: RandomSource,
  options: BackoffOptions = {},
): number {
  const baseMs = options.baseMs ?? 25;
  const maxMs = options.maxMs ?? 1000;
  const capMs = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(retry, 0), 20));
  return Math.floor(random() * capMs);
}

/** A small seeded generator (mulberry32) for deterministic jitter in tests. */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
