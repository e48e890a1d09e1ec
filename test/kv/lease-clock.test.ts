import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/errors.js";
import { expiredLeases, LeaseClock, takeoverDeadlineMs } from "../../src/kv/index.js";

describe("LeaseClock", () => {
  it("expires a lease a TTL after its last refresh", () => {
    const clock = new LeaseClock(1000);
    clock.refresh(1, 5000, 0);
    clock.refresh(2, 3000, 0);
    expect(clock.expired(2999)).toEqual([]);
    expect(clock.expired(3000)).toEqual([2]);
    clock.refresh(2, 3000, 2500);
    expect(clock.expired(5000)).toEqual([1]);
    expect(clock.remainingMs(2, 5000)).toBe(500);
    clock.forget(1);
    expect(clock.expired(10_000)).toEqual([2]);
    expect(clock.remainingMs(1, 0)).toBeUndefined();
  });

  it("gives every lease a TTL plus an election timeout after a leader change", () => {
    const clock = new LeaseClock(1000);
    clock.promote(50_000, [
      { id: 3, ttlMs: 2000 },
      { id: 4, ttlMs: 10_000 },
    ]);
    expect(takeoverDeadlineMs(50_000, 2000, 1000)).toBe(53_000);
    expect(clock.expired(52_999)).toEqual([]);
    expect(clock.expired(53_000)).toEqual([3]);
    expect(clock.remainingMs(4, 53_000)).toBe(8000);
  });

  it("expiredLeases lists due ids in id order", () => {
    const deadlines = new Map([
      [9, 10],
      [2, 5],
      [5, 100],
    ]);
    expect(expiredLeases(10, deadlines)).toEqual([2, 9]);
    expect(() => new LeaseClock(-1)).toThrow(InvalidArgumentError);
  });
});
