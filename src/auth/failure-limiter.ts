import { InvalidArgumentError } from "../errors.js";
import { AuthError } from "./errors.js";

/**
 * A client or user name failed to authenticate too often: further attempts
 * are refused without checking the password until `retryAfterMs` has passed.
 * The code is the one the concurrency bound answers with, so a caller handles
 * one "slow down" answer.
 */
export class AuthLockedOutError extends AuthError {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number) {
    super(
      429,
      "TOO_MANY_AUTH_REQUESTS",
      `too many failed authentications from this client or for this user; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
    );
    this.retryAfterMs = retryAfterMs;
  }
}

export interface AuthFailureLimits {
  /** Failures within `windowMs` that start a lockout. */
  readonly maxFailures: number;
  /** The window failures are counted in; also how long a key must stay quiet after a lockout before its backoff starts over. */
  readonly windowMs: number;
  /** The first lockout; each failure right after a lockout doubles the next one. */
  readonly firstLockoutMs: number;
  /** The longest lockout the doubling reaches. */
  readonly maxLockoutMs: number;
  /** Keys remembered at once; past this the least recently touched is forgotten. */
  readonly maxEntries: number;
}

export const DEFAULT_AUTH_FAILURE_LIMITS: AuthFailureLimits = {
  maxFailures: 5,
  windowMs: 60_000,
  firstLockoutMs: 10_000,
  maxLockoutMs: 300_000,
  maxEntries: 10_000,
};

/** Checks limits as given in server options; throws InvalidArgumentError naming the field. */
export function validateAuthFailureLimits(limits: AuthFailureLimits, prefix: string): void {
  const atLeast = (field: keyof AuthFailureLimits, min: number) => {
    const value = limits[field];
    if (!Number.isSafeInteger(value) || value < min) {
      throw new InvalidArgumentError(
        `${prefix}.${field} must be an integer >= ${min}, got ${value}`,
      );
    }
  };
  atLeast("maxFailures", 1);
  atLeast("windowMs", 1);
  atLeast("firstLockoutMs", 1);
  atLeast("maxLockoutMs", limits.firstLockoutMs);
  atLeast("maxEntries", 1);
}

/** A lockout that a failure started. */
export interface Lockout {
  readonly key: string;
  readonly lockoutMs: number;
}

interface Entry {
  windowStartMs: number;
  failures: number;
  /** Lockouts in a row; 0 when the key is not backing off. */
  lockouts: number;
  lockedUntilMs: number;
}

/**
 * Counts failed authentications per key (a client host, a user name) and
 * locks a key out once it fails too often, so password guessing is slowed to
 * a handful of tries per lockout however fast the guesser sends. A lockout is
 * checked before any password work, so a flood of refused attempts costs a
 * map lookup each.
 *
 * Memory is bounded by `maxEntries`: a guesser spraying distinct keys makes
 * the table forget its oldest keys rather than grow. Keys it is still failing
 * under are touched on every failure and so stay.
 */
export class AuthFailureLimiter {
  readonly #limits: AuthFailureLimits;
  readonly #nowMs: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(limits: AuthFailureLimits, nowMs: () => number) {
    validateAuthFailureLimits(limits, "auth failure limits");
    this.#limits = limits;
    this.#nowMs = nowMs;
  }

  /** Keys remembered now (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  /** Throws AuthLockedOutError when any of `keys` is locked out. */
  check(keys: readonly string[]): void {
    const now = this.#nowMs();
    let waitMs = 0;
    for (const key of keys) {
      const entry = this.#entries.get(key);
      if (entry !== undefined) waitMs = Math.max(waitMs, entry.lockedUntilMs - now);
    }
    if (waitMs > 0) throw new AuthLockedOutError(waitMs);
  }

  /** Records one failed authentication under each of `keys`; returns the lockouts it started. */
  failed(keys: readonly string[]): Lockout[] {
    const now = this.#nowMs();
    const started: Lockout[] = [];
    for (const key of keys) {
      const lockoutMs = this.#failedOne(key, now);
      if (lockoutMs !== undefined) started.push({ key, lockoutMs });
    }
    return started;
  }

  /** Forgets `key`: its failures no longer count. */
  clear(key: string): void {
    this.#entries.delete(key);
  }

  #failedOne(key: string, now: number): number | undefined {
    const limits = this.#limits;
    let entry = this.#entries.get(key);
    if (entry !== undefined) {
      // Re-inserted below, so the map's order is least recently failed first.
      this.#entries.delete(key);
      if (entry.lockouts > 0 && now >= entry.lockedUntilMs + limits.windowMs) entry.lockouts = 0;
      if (now - entry.windowStartMs >= limits.windowMs) {
        entry.windowStartMs = now;
        entry.failures = 0;
      }
    } else {
      if (this.#entries.size >= limits.maxEntries) {
        const oldest = this.#entries.keys().next();
        if (oldest.done !== true) this.#entries.delete(oldest.value);
      }
      entry = { windowStartMs: now, failures: 0, lockouts: 0, lockedUntilMs: 0 };
    }
    entry.failures++;
    let started: number | undefined;
    // Backing off, one failure is enough for the next, longer, lockout.
    if (entry.lockouts > 0 || entry.failures >= limits.maxFailures) {
      const lockoutMs = Math.min(
        limits.maxLockoutMs,
        limits.firstLockoutMs * 2 ** Math.min(entry.lockouts, 30),
      );
      entry.lockouts++;
      entry.lockedUntilMs = now + lockoutMs;
      entry.failures = 0;
      entry.windowStartMs = now;
      started = lockoutMs;
    }
    this.#entries.set(key, entry);
    return started;
  }
}
