/** Renewal and the loss signal. */
import { setTimeout as delay } from "node:timers/promises";
import { expect, it } from "vitest";
import { LockLostError, type TokenType } from "../../../src/lock/index.js";
import type { SuiteContext } from "../conformance.js";
import { wallNowMs } from "../support/tasks.js";

export function registerLivenessScenarios<TToken extends TokenType>(
  ctx: SuiteContext<TToken>,
): void {
  it("keeps a lock across 5x its TTL of work by renewing it", async () => {
    const ttlMs = ctx.target.ttlMs;
    const holder = await ctx.client();
    const contender = await ctx.client();
    const name = ctx.uniqueName("renewal");
    const lock = await holder.acquire(name, { ttlMs });
    const endAt = wallNowMs() + ttlMs * 5;
    let checks = 0;
    while (wallNowMs() < endAt) {
      await delay(ttlMs / 4);
      expect(lock.signal.aborted).toBe(false);
      expect(await contender.tryAcquire(name)).toBeUndefined();
      checks += 1;
    }
    expect(checks).toBeGreaterThanOrEqual(5);
    expect(lock.held).toBe(true);
    await lock.release();
    const next = await contender.tryAcquire(name);
    expect(next).toBeDefined();
    await next?.release();
  });

  it("fires the loss signal when the holder is cut off, before anyone else is granted the lock", async () => {
    const ttlMs = ctx.target.ttlMs;
    const name = ctx.uniqueName("partition");
    const { client: holder, cut, heal } = await ctx.target.createPartitionableClient();
    const contender = await ctx.client();
    try {
      const lock = await holder.acquire(name, { ttlMs });
      const lostAtMs = new Promise<number>((resolve) => {
        lock.signal.addEventListener("abort", () => resolve(wallNowMs()), { once: true });
      });
      await cut();
      const next = await contender.acquire(name, { waitMs: ttlMs * 10 });
      const grantedAtMs = wallNowMs();
      expect(lock.signal.aborted).toBe(true);
      expect(lock.signal.reason).toBeInstanceOf(LockLostError);
      expect(await lostAtMs).toBeLessThan(grantedAtMs);
      expect(lock.held).toBe(false);
      await next.release();
    } finally {
      await heal();
      await holder.destroy();
    }
  });
}
