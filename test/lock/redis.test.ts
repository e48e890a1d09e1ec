import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LockAbortedError, LockClient, LockLostError } from "../../src/lock/index.js";
import { RedisLockBackend, redisGuarantees } from "../../src/lock/redis/index.js";
import { resourceKeys } from "../../src/lock/redis/keys.js";
import { runLockConformance } from "./conformance.js";
import { RedisServerProcess, requireSharedRedis } from "./support/redis-server.js";
import { sharedServerTarget } from "./support/server-target.js";
import { wallNowMs } from "./support/tasks.js";

const SHARED_REDIS_URL = "redis://127.0.0.1:6379";
const workerModule = fileURLToPath(new URL("./support/redis-worker-client.ts", import.meta.url));

for (const fair of [false, true]) {
  const label = fair ? "redis (fair queue)" : "redis";
  runLockConformance(label, redisGuarantees(fair), { inProcess: false }, async () => {
    await requireSharedRedis();
    return sharedServerTarget({
      label,
      serverPort: 6379,
      worker: { module: workerModule, config: { url: SHARED_REDIS_URL, fair } },
      backend: () => new RedisLockBackend({ redis: SHARED_REDIS_URL, fair }),
      proxiedBackend: (proxyPort) =>
        new RedisLockBackend({
          redis: `redis://127.0.0.1:${proxyPort}`,
          fair,
          operationTimeoutMs: 200,
        }),
    });
  });
}

describe("redis lock backend specifics", () => {
  let server: RedisServerProcess | undefined;
  const clients: LockClient<bigint>[] = [];

  beforeAll(async () => {
    server = await RedisServerProcess.start();
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.destroy()));
    await server?.stop();
  });

  function client(fair: boolean, operationTimeoutMs = 2000): LockClient<bigint> {
    const c = new LockClient(
      new RedisLockBackend({ redis: server!.url, fair, operationTimeoutMs }),
    );
    clients.push(c);
    return c;
  }

  it("keeps every key of a name in one hash slot, also for names with braces", () => {
    for (const name of ["orders", "a}b{c", "}", "{x}"]) {
      for (const kind of ["mutex", "read", "semaphore", "leader"] as const) {
        const keys = resourceKeys("conclave:lock", kind, name);
        const tags = [keys.main, keys.readers, keys.fence, keys.queue, keys.queueDeadlines].map(
          (k) => k.slice(k.indexOf("{") + 1, k.indexOf("}")),
        );
        expect(new Set(tags).size).toBe(1);
        expect(tags[0]!.length).toBeGreaterThan(0);
      }
    }
  });

  it("leaves no fair-queue entry and no subscription behind an aborted wait", async () => {
    const holder = client(true);
    const waiterBackend = new RedisLockBackend({ redis: server!.url, fair: true });
    const waiter = new LockClient(waiterBackend);
    clients.push(waiter);
    const name = "abort-cleanup";
    const lock = await holder.acquire(name);
    const controller = new AbortController();
    const waiting = waiter.acquire(name, {
      signal: controller.signal,
      onQueued: () => controller.abort(),
    });
    await expect(waiting).rejects.toBeInstanceOf(LockAbortedError);
    const redis = new Redis(server!.url);
    try {
      const keys = resourceKeys("conclave:lock", "mutex", name);
      expect(await redis.zcard(keys.queue)).toBe(0);
      expect(await redis.zcard(keys.queueDeadlines)).toBe(0);
    } finally {
      redis.disconnect();
    }
    expect(waiterBackend.subscribedChannels).toBe(0);
    await lock.release();
  });

  it("fires the loss signal when its Redis server stops, before the lease could end", async () => {
    const ttlMs = 600;
    const holder = client(false, 100);
    const lock = await holder.acquire("server-stop", { ttlMs });
    const acquiredAtMs = wallNowMs();
    const lostAtMs = new Promise<number>((resolve) => {
      lock.signal.addEventListener("abort", () => resolve(wallNowMs()), { once: true });
    });
    server!.pause();
    try {
      const lost = await lostAtMs;
      expect(lock.signal.reason).toBeInstanceOf(LockLostError);
      // The server's lease ends no earlier than acquiredAt + ttl; the signal came before that.
      expect(lost).toBeLessThan(acquiredAtMs + ttlMs);
    } finally {
      server!.resume();
    }
  });
});
