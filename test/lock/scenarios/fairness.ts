/** FIFO order, for backends that claim fairness. */
import { expect, it } from "vitest";
import type { LockHandle, TokenType } from "../../../src/lock/index.js";
import type { SuiteContext } from "../conformance.js";

const WAITERS = 5;

export function registerFairnessScenarios<TToken extends TokenType>(
  ctx: SuiteContext<TToken>,
): void {
  it(`grants ${WAITERS} queued waiters in the order they started waiting`, async () => {
    const name = ctx.uniqueName("fifo");
    const holder = await (await ctx.client()).acquire(name);
    const order: number[] = [];
    const done: Promise<void>[] = [];
    for (let i = 0; i < WAITERS; i++) {
      const client = await ctx.client();
      let queued!: () => void;
      const isQueued = new Promise<void>((resolve) => {
        queued = resolve;
      });
      done.push(
        client.acquire(name, { onQueued: queued }).then(async (lock: LockHandle<TToken>) => {
          order.push(i);
          await lock.release();
        }),
      );
      await isQueued;
    }
    await holder.release();
    await Promise.all(done);
    expect(order).toEqual(Array.from({ length: WAITERS }, (_, i) => i));
  });

  it("does not let readers overtake a queued writer", async () => {
    const name = ctx.uniqueName("fifo-rw");
    const reader = await (await ctx.client()).readWriteLock(name).acquireRead();
    const writerClient = await ctx.client();
    let queued!: () => void;
    const isQueued = new Promise<void>((resolve) => {
      queued = resolve;
    });
    const order: string[] = [];
    const writer = writerClient
      .readWriteLock(name)
      .acquireWrite({ onQueued: queued })
      .then(async (lock) => {
        order.push("writer");
        await lock.release();
      });
    await isQueued;
    const lateReaderClient = await ctx.client();
    expect(await lateReaderClient.readWriteLock(name).tryAcquireRead()).toBeUndefined();
    const lateReader = lateReaderClient
      .readWriteLock(name)
      .acquireRead()
      .then(async (lock) => {
        order.push("late reader");
        await lock.release();
      });
    await reader.release();
    await Promise.all([writer, lateReader]);
    expect(order).toEqual(["writer", "late reader"]);
  });
}
