import { InvalidArgumentError } from "../../errors.js";
import type { Random } from "../core/prng.js";

export interface BackoffOptions {
  /** Delay before the first retry. */
  readonly initialDelayMs: number;
  /** Cap on any delay. */
  readonly maxDelayMs: number;
  /** Growth factor per consecutive failure. */
  readonly multiplier: number;
  /**
   * Fraction of each delay that is randomised, in [0, 1]: the delay is drawn
   * uniformly from [d * (1 - jitter), d]. Spreads out reconnects of many
   * nodes that lost the same peer at the same moment.
   */
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  initialDelayMs: 50,
  maxDelayMs: 1_000,
  multiplier: 2,
  jitter: 0.5,
};

export function validateBackoff(b: BackoffOptions): BackoffOptions {
  const finite = (v: number): boolean => typeof v === "number" && Number.isFinite(v);
  if (!finite(b.initialDelayMs) || b.initialDelayMs <= 0) {
    throw new InvalidArgumentError(`backoff.initialDelayMs must be > 0, got ${b.initialDelayMs}`);
  }
  if (!finite(b.maxDelayMs) || b.maxDelayMs < b.initialDelayMs) {
    throw new InvalidArgumentError(
      `backoff.maxDelayMs must be >= initialDelayMs (${b.initialDelayMs}), got ${b.maxDelayMs}`,
    );
  }
  if (!finite(b.multiplier) || b.multiplier < 1) {
    throw new InvalidArgumentError(`backoff.multiplier must be >= 1, got ${b.multiplier}`);
  }
  if (!finite(b.jitter) || b.jitter < 0 || b.jitter > 1) {
    throw new InvalidArgumentError(`backoff.jitter must be within [0, 1], got ${b.jitter}`);
  }
  return b;
}

/** Capped exponential backoff with jitter; `reset()` after a success. */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly options: BackoffOptions,
    private readonly random: Random,
  ) {}

  /** The delay before the next attempt, counting one more consecutive failure. */
  nextDelayMs(): number {
    const o = this.options;
    const exp = Math.min(this.failures, 64);
    this.failures++;
    const ceiling = Math.min(o.maxDelayMs, o.initialDelayMs * o.multiplier ** exp);
    return ceiling * (1 - o.jitter * this.random.float());
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  reset(): void {
    this.failures = 0;
  }
}
