/**
 * A scenario for the queue-based backends (etcd, ZooKeeper): a waiter's
 * place in the queue lives in its lease or session, which the backend must
 * keep alive for as long as it waits, however short its ttlMs.
 */
import { setTimeout as delay } from "node:timers/promises";
import { expect } from "vitest";
import type { LockClient, LockHandle } from "../../../src/lock/index.js";

export async function waitersKeepTheirPlace(
  clients: readonly [LockClient<bigint>, LockClient<bigint>, LockClient<bigint>],
  name: string,
  ttlMs: number,
  /** The tokens the queue's entries would be granted with, oldest first, read from the server. */
  queuedTokens: () => Promise<bigint[]>,
): Promise<void> {
  const [holderClient, firstClient, secondClient] = clients;
  const holder = await holderClient.acquire(name, { ttlMs: ttlMs * 10 });
  const order: string[] = [];
  const queue = (locks: LockClient<bigint>, label: string) =>
    // Wrapped: resolving with the grant promise itself would wait for the grant.
    new Promise<{ granted: Promise<LockHandle<bigint>> }>((queued) => {
      const granted = locks
        .acquire(name, { ttlMs, onQueued: () => queued({ granted }) })
        .then((lock) => {
          order.push(label);
          return lock;
        });
    });
  const { granted: first } = await queue(firstClient, "first");
  const { granted: second } = await queue(secondClient, "second");
  const queued = await queuedTokens();
  expect(queued).toHaveLength(3);
  // Hold on for well over both waiters' ttlMs: their places must survive it.
  await delay(ttlMs * 2.5);
  expect(await queuedTokens()).toEqual(queued);
  await holder.release();
  const firstLock = await first;
  expect(order).toEqual(["first"]);
  await firstLock.release();
  const secondLock = await second;
  expect(order).toEqual(["first", "second"]);
  // A waiter that had lost its place would have queued again, with a new token.
  expect([holder.fencingToken, firstLock.fencingToken, secondLock.fencingToken]).toEqual(queued);
  await secondLock.release();
}
