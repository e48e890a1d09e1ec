import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../../src/errors.js";
import { Xoshiro128 } from "../../../src/raft/core/prng.js";
import { Backoff, DEFAULT_BACKOFF, validateBackoff } from "../../../src/raft/transport/backoff.js";
import { SendQueue } from "../../../src/raft/transport/send-queue.js";

describe("Backoff", () => {
  it("grows exponentially to the cap, each delay jittered below its ceiling", () => {
    const b = new Backoff(
      { initialDelayMs: 50, maxDelayMs: 1000, multiplier: 2, jitter: 0.5 },
      new Xoshiro128(1),
    );
    const ceilings = [50, 100, 200, 400, 800, 1000, 1000, 1000];
    for (const ceiling of ceilings) {
      const d = b.nextDelayMs();
      expect(d).toBeLessThanOrEqual(ceiling);
      expect(d).toBeGreaterThanOrEqual(ceiling * 0.5);
    }
    expect(b.consecutiveFailures).toBe(ceilings.length);
    b.reset();
    expect(b.nextDelayMs()).toBeLessThanOrEqual(50);
  });

  it("is reproducible from its seed and spreads peers apart", () => {
    const seq = (seed: number): number[] => {
      const b = new Backoff(DEFAULT_BACKOFF, new Xoshiro128(seed));
      return Array.from({ length: 6 }, () => b.nextDelayMs());
    };
    expect(seq(7)).toEqual(seq(7));
    expect(seq(7)).not.toEqual(seq(8));
  });

  it("never overflows after very many failures", () => {
    const b = new Backoff(DEFAULT_BACKOFF, new Xoshiro128(3));
    for (let i = 0; i < 10_000; i++) {
      const d = b.nextDelayMs();
      expect(Number.isFinite(d) && d <= DEFAULT_BACKOFF.maxDelayMs).toBe(true);
    }
  });

  it("refuses nonsensical options", () => {
    const ok = DEFAULT_BACKOFF;
    expect(() => validateBackoff({ ...ok, initialDelayMs: 0 })).toThrow(InvalidArgumentError);
    expect(() => validateBackoff({ ...ok, multiplier: 0.5 })).toThrow(/multiplier/);
    expect(() => validateBackoff({ ...ok, jitter: 1.5 })).toThrow(/jitter/);
    expect(() => validateBackoff({ ...ok, maxDelayMs: Number.NaN })).toThrow(/maxDelayMs/);
  });
});

describe("SendQueue", () => {
  it("is FIFO and refuses beyond its message bound", () => {
    const q = new SendQueue(3, 1000);
    for (let i = 0; i < 3; i++) expect(q.push(new Uint8Array([i]))).toBe(true);
    expect(q.push(new Uint8Array([9]))).toBe(false);
    expect([q.shift()?.[0], q.shift()?.[0], q.shift()?.[0], q.shift()]).toEqual([
      0,
      1,
      2,
      undefined,
    ]);
  });

  it("refuses beyond its byte bound and accounts bytes exactly", () => {
    const q = new SendQueue(100, 10);
    expect(q.push(new Uint8Array(6))).toBe(true);
    expect(q.push(new Uint8Array(5))).toBe(false);
    expect(q.push(new Uint8Array(4))).toBe(true);
    expect(q.byteLength).toBe(10);
    q.shift();
    expect(q.byteLength).toBe(4);
    expect(q.clear()).toBe(1);
    expect(q.byteLength).toBe(0);
    expect(q.length).toBe(0);
  });

  it("stays correct across long runs of push and shift", () => {
    const q = new SendQueue(5000, 1 << 30);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 3000; i++) q.push(Uint8Array.of(next++ & 0xff));
      for (let i = 0; i < 2990; i++) expect(q.shift()?.[0]).toBe(expected++ & 0xff);
    }
    expect(q.length).toBe(50 * 10);
  });
});
