/** Read-write lock, semaphore and election. */
import { setImmediate as yieldToLoop } from "node:timers/promises";
import fc from "fast-check";
import { expect, it } from "vitest";
import type {
  BackendGuarantees,
  LeaderSnapshot,
  LockHandle,
  TokenType,
} from "../../../src/lock/index.js";
import type { SuiteContext } from "../conformance.js";

const SEED = 20_240_607;

/** Random work plans: per worker, a list of (isWrite, yields while holding). */
function workPlans(workers: number, opsPerWorker: number): [boolean, number][][] {
  const plan = fc.array(
    fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3 })), {
      minLength: opsPerWorker,
      maxLength: opsPerWorker,
    }),
    { minLength: workers, maxLength: workers },
  );
  return fc.sample(plan, { seed: SEED, numRuns: 1 })[0]!;
}

async function hold(yields: number): Promise<void> {
  for (let i = 0; i < yields; i++) await yieldToLoop();
}

function tokensIncrease(tokens: TokenType[]): boolean {
  for (let i = 1; i < tokens.length; i++) {
    if (!((tokens[i] as bigint) > (tokens[i - 1] as bigint))) return false;
  }
  return true;
}

export function registerPrimitiveScenarios<TToken extends TokenType>(
  ctx: SuiteContext<TToken>,
  guarantees: BackendGuarantees,
): void {
  if (guarantees.kinds.includes("read") && guarantees.kinds.includes("write")) {
    it("read-write lock: readers share, a writer excludes everyone", async () => {
      const name = ctx.uniqueName("rwlock");
      const [a, b, c] = [await ctx.client(), await ctx.client(), await ctx.client()];
      const r1 = await a.readWriteLock(name).acquireRead();
      const r2 = await b.readWriteLock(name).tryAcquireRead();
      expect(r2).toBeDefined();
      expect(await c.readWriteLock(name).tryAcquireWrite()).toBeUndefined();
      await r1.release();
      expect(await c.readWriteLock(name).tryAcquireWrite()).toBeUndefined();
      await r2?.release();
      const w = await c.readWriteLock(name).tryAcquireWrite();
      expect(w).toBeDefined();
      expect(await a.readWriteLock(name).tryAcquireRead()).toBeUndefined();
      expect(await b.readWriteLock(name).tryAcquireWrite()).toBeUndefined();
      // The mutex namespace is separate from the read-write lock of the same name.
      const mutex = await a.tryAcquire(name);
      expect(mutex).toBeDefined();
      await mutex?.release();
      await w?.release();
    });

    it("read-write lock: concurrent random readers and writers never overlap a writer", async () => {
      const name = ctx.uniqueName("rwlock-mix");
      const plans = workPlans(4, 8);
      let readers = 0;
      let writers = 0;
      let violations = 0;
      const tokens: TokenType[] = [];
      await Promise.all(
        plans.map(async (plan) => {
          const rw = (await ctx.client()).readWriteLock(name);
          for (const [isWrite, yields] of plan) {
            const lock: LockHandle<TToken> = isWrite
              ? await rw.acquireWrite()
              : await rw.acquireRead();
            if (isWrite) {
              writers += 1;
              tokens.push(lock.fencingToken);
            } else readers += 1;
            if (writers > 1 || (writers === 1 && readers > 0)) violations += 1;
            await hold(yields);
            if (isWrite) writers -= 1;
            else readers -= 1;
            await lock.release();
          }
        }),
      );
      expect(violations).toBe(0);
      if (guarantees.fencing === "strict") expect(tokensIncrease(tokens)).toBe(true);
    });
  }

  if (guarantees.kinds.includes("semaphore")) {
    it("semaphore: admits at most `permits` holders", async () => {
      const name = ctx.uniqueName("semaphore");
      const permits = 2;
      const clients = [await ctx.client(), await ctx.client(), await ctx.client()];
      const first = await clients[0]!.semaphore(name, { permits }).acquire();
      const second = await clients[1]!.semaphore(name, { permits }).tryAcquire();
      expect(second).toBeDefined();
      expect(await clients[2]!.semaphore(name, { permits }).tryAcquire()).toBeUndefined();
      await first.release();
      const third = await clients[2]!.semaphore(name, { permits }).tryAcquire();
      expect(third).toBeDefined();
      await second?.release();
      await third?.release();

      let inside = 0;
      let maxInside = 0;
      const plans = workPlans(5, 6);
      await Promise.all(
        plans.map(async (plan) => {
          const semaphore = (await ctx.client()).semaphore(name, { permits });
          for (const [, yields] of plan) {
            await semaphore.withPermit(async () => {
              inside += 1;
              maxInside = Math.max(maxInside, inside);
              await hold(yields + 1);
              inside -= 1;
            });
          }
        }),
      );
      expect(maxInside).toBeLessThanOrEqual(permits);
      expect(maxInside).toBeGreaterThanOrEqual(1);
    });
  }

  if (guarantees.kinds.includes("leader")) {
    it("election: one leader at a time, handover on resign and on crash, observable", async () => {
      const ttlMs = ctx.target.ttlMs;
      const name = ctx.uniqueName("election");
      const [a, b, c, watcher] = [
        await ctx.client(),
        await ctx.client(),
        await ctx.client(),
        await ctx.client(),
      ];
      const seen: (LeaderSnapshot<TToken> | undefined)[] = [];
      const stopObserving = new AbortController();
      let notifySeen: () => void = () => {};
      const observing = (async () => {
        for await (const leader of watcher.election(name).observe({
          signal: stopObserving.signal,
        })) {
          seen.push(leader);
          notifySeen();
        }
      })();
      const waitUntilSeen = async (value: string) => {
        while (seen.length === 0 || (seen.at(-1)?.value ?? "") !== value) {
          await new Promise<void>((resolve) => {
            notifySeen = resolve;
          });
        }
      };

      const first = await a.election(name).campaign("alpha", { ttlMs });
      expect((await watcher.election(name).leader())?.value).toBe("alpha");
      await waitUntilSeen("alpha");
      expect(await b.election(name).tryCampaign("beta")).toBeUndefined();

      await first.proclaim("alpha-2");
      expect(first.value).toBe("alpha-2");
      await waitUntilSeen("alpha-2");

      let queued = 0;
      let bothQueued!: () => void;
      const queuedPromise = new Promise<void>((resolve) => {
        bothQueued = resolve;
      });
      const onQueued = () => {
        queued += 1;
        if (queued === 2) bothQueued();
      };
      const candidates = [
        b.election(name).campaign("beta", { ttlMs, onQueued }),
        c.election(name).campaign("gamma", { ttlMs, onQueued }),
      ];
      await queuedPromise;
      await first.resign();
      await expect(first.proclaim("too late")).rejects.toMatchObject({ code: "NOT_LOCK_OWNER" });

      const second = await Promise.race(candidates);
      const [secondClient, laterCandidate] =
        second.value === "beta" ? [b, candidates[1]!] : [c, candidates[0]!];
      expect((await watcher.election(name).leader())?.value).toBe(second.value);
      await waitUntilSeen(second.value);

      // The second leader's process dies: the last candidate takes over after the TTL.
      await secondClient.destroy();
      const third = await laterCandidate;
      expect(third.value).not.toBe(second.value);
      await waitUntilSeen(third.value);
      if (guarantees.fencing === "strict") {
        expect(tokensIncrease([first.fencingToken, second.fencingToken, third.fencingToken])).toBe(
          true,
        );
      }
      await third.resign();
      await waitUntilSeen("");
      stopObserving.abort();
      await observing;
      // Observed leaders appear in the order they led, each once in a row.
      const values = seen.map((s) => s?.value ?? "");
      expect(values.filter((v, i) => i === 0 || v !== values[i - 1])).toEqual(values);
      const order = ["alpha", "alpha-2", second.value, third.value];
      const led = values.filter((v) => v !== "");
      expect(led).toEqual(order.filter((v) => led.includes(v)));
    });
  }
}
