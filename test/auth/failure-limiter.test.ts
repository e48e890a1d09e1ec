import { describe, expect, it } from "vitest";
import {
  AuthFailureLimiter,
  type AuthFailureLimits,
  AuthLockedOutError,
} from "../../src/auth/index.js";
import { InvalidArgumentError } from "../../src/errors.js";

const LIMITS: AuthFailureLimits = {
  maxFailures: 3,
  windowMs: 60_000,
  firstLockoutMs: 10_000,
  maxLockoutMs: 40_000,
  maxEntries: 4,
};

function limiter(limits: Partial<AuthFailureLimits> = {}) {
  const clock = { nowMs: 1_000 };
  return { clock, limiter: new AuthFailureLimiter({ ...LIMITS, ...limits }, () => clock.nowMs) };
}

function lockedFor(l: AuthFailureLimiter, keys: string[]): number | undefined {
  try {
    l.check(keys);
    return undefined;
  } catch (error) {
    if (error instanceof AuthLockedOutError) return error.retryAfterMs;
    throw error;
  }
}

describe("AuthFailureLimiter", () => {
  it("locks a key out after maxFailures failures in the window, until the lockout ends", () => {
    const { clock, limiter: l } = limiter();
    l.failed(["host:a"]);
    l.failed(["host:a"]);
    expect(lockedFor(l, ["host:a"])).toBeUndefined();
    l.failed(["host:a"]);
    expect(lockedFor(l, ["host:a"])).toBe(10_000);
    clock.nowMs += 9_999;
    expect(lockedFor(l, ["host:a"])).toBe(1);
    clock.nowMs += 1;
    expect(lockedFor(l, ["host:a"])).toBeUndefined();
  });

  it("forgets failures older than the window", () => {
    const { clock, limiter: l } = limiter();
    l.failed(["host:a"]);
    l.failed(["host:a"]);
    clock.nowMs += 60_000;
    l.failed(["host:a"]);
    l.failed(["host:a"]);
    expect(lockedFor(l, ["host:a"])).toBeUndefined();
  });

  it("doubles the lockout on each failure right after one, up to maxLockoutMs", () => {
    const { clock, limiter: l } = limiter();
    for (let i = 0; i < 3; i++) l.failed(["user:root"]);
    const lockouts: (number | undefined)[] = [lockedFor(l, ["user:root"])];
    for (let i = 0; i < 4; i++) {
      clock.nowMs += lockouts.at(-1) ?? 0;
      l.failed(["user:root"]);
      lockouts.push(lockedFor(l, ["user:root"]));
    }
    expect(lockouts).toEqual([10_000, 20_000, 40_000, 40_000, 40_000]);
    // A window of quiet after the lockout ends and the backoff starts over.
    clock.nowMs += 40_000 + 60_000;
    l.failed(["user:root"]);
    expect(lockedFor(l, ["user:root"])).toBeUndefined();
  });

  it("refuses when any of the keys is locked out, and leaves other keys alone", () => {
    const { limiter: l } = limiter();
    for (let i = 0; i < 3; i++) l.failed(["host:a", `user:guess-${i}`]);
    expect(lockedFor(l, ["host:a", "user:alice"])).toBe(10_000);
    expect(lockedFor(l, ["host:b", "user:guess-0"])).toBeUndefined();
  });

  it("clear forgets a key's failures", () => {
    const { limiter: l } = limiter();
    l.failed(["host:a"]);
    l.failed(["host:a"]);
    l.clear("host:a");
    l.failed(["host:a"]);
    l.failed(["host:a"]);
    expect(lockedFor(l, ["host:a"])).toBeUndefined();
  });

  it("remembers at most maxEntries keys, forgetting the least recently failed", () => {
    const { limiter: l } = limiter();
    for (let i = 0; i < 3; i++) l.failed(["host:kept"]);
    for (let i = 0; i < 100; i++) {
      l.failed([`user:spray-${i}`]);
      // The guesser keeps failing under its host key, which therefore stays.
      if (i % 2 === 0) l.failed(["host:kept"]);
    }
    expect(l.size).toBe(4);
    expect(lockedFor(l, ["host:kept"])).toBeGreaterThan(0);
  });

  it("rejects limits that are not positive integers", () => {
    expect(() => limiter({ maxFailures: 0 })).toThrow(InvalidArgumentError);
    expect(() => limiter({ windowMs: Number.NaN })).toThrow(InvalidArgumentError);
    expect(() => limiter({ maxLockoutMs: 5_000 })).toThrow(/maxLockoutMs/);
  });
});
