/** LeaseKeeper timing with fake calls and fake timers: keepalives count from when a refresh was sent. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LeaseKeeper } from "../../src/client/index.js";
import type { LeaseCalls } from "../../src/client/lease-keeper.js";

const TTL_SECONDS = 3;
const TTL_MS = TTL_SECONDS * 1000;
const INTERVAL_MS = TTL_MS / 3;

/** Fake calls: each keepalive answers after `answerMs`; records when each was sent. */
function fakeCalls(answerMs: number) {
  const sentAtMs: number[] = [];
  const calls: LeaseCalls = {
    leaseKeepAliveOnce: (id) => {
      sentAtMs.push(Date.now());
      return new Promise((resolve) =>
        setTimeout(() => resolve({ revision: 1, id, ttlSeconds: TTL_SECONDS }), answerMs),
      );
    },
    leaseRevoke: async () => ({ revision: 1 }),
  };
  return { calls, sentAtMs };
}

const granted = { revision: 1, id: 7, ttlSeconds: TTL_SECONDS };

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("LeaseKeeper timing", () => {
  it("keeps a lease whose grant answer was slow: the first keepalive counts from the grant's send", async () => {
    const { calls, sentAtMs } = fakeCalls(5);
    const grantedAtMs = Date.now();
    // The grant took two thirds of the TTL to answer (an election, a slow disk).
    vi.advanceTimersByTime(2000);
    const keeper = new LeaseKeeper(calls, granted, { grantedAtMs });
    await vi.advanceTimersByTimeAsync(10 * TTL_MS);
    expect(keeper.signal.aborted).toBe(false);
    // Sent at once, since a third of the TTL had passed since the grant was sent.
    expect(sentAtMs[0]).toBe(grantedAtMs + 2000);
    keeper.close();
  });

  it("sends the first keepalive a third of the TTL after the grant was sent", async () => {
    const { calls, sentAtMs } = fakeCalls(5);
    const grantedAtMs = Date.now();
    vi.advanceTimersByTime(400);
    const keeper = new LeaseKeeper(calls, granted, { grantedAtMs });
    await vi.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(sentAtMs[0]).toBe(grantedAtMs + INTERVAL_MS);
    keeper.close();
  });

  it("spaces keepalives by the interval from each send, however slow the answers", async () => {
    const { calls, sentAtMs } = fakeCalls(400);
    const grantedAtMs = Date.now();
    const keeper = new LeaseKeeper(calls, granted, { grantedAtMs });
    await vi.advanceTimersByTimeAsync(5 * INTERVAL_MS + 1);
    expect(sentAtMs).toEqual([1, 2, 3, 4, 5].map((i) => grantedAtMs + i * INTERVAL_MS));
    expect(keeper.signal.aborted).toBe(false);
    keeper.close();
  });

  it("still declares the lease lost when no keepalive succeeds in time", async () => {
    const calls: LeaseCalls = {
      leaseKeepAliveOnce: () => Promise.reject(new Error("unreachable")),
      leaseRevoke: async () => ({ revision: 1 }),
    };
    const grantedAtMs = Date.now();
    const keeper = new LeaseKeeper(calls, granted, { grantedAtMs, safetyMarginMs: 500 });
    await vi.advanceTimersByTimeAsync(TTL_MS - 500 - 1);
    expect(keeper.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(keeper.signal.aborted).toBe(true);
  });
});
