import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Clock, LockClient, systemClock } from "../../src/lock/index.js";
import { resourceKeys } from "../../src/lock/redis/keys.js";
import {
  judgeQuorum,
  quorumOf,
  REDLOCK_GUARANTEES,
  RedlockBackend,
} from "../../src/lock/redlock/index.js";
import { TcpProxy } from "../support/tcp-proxy.js";
import { runLockConformance } from "./conformance.js";
import { RedisServerProcess } from "./support/redis-server.js";

const workerModule = fileURLToPath(new URL("./support/redlock-worker-client.ts", import.meta.url));

runLockConformance("redlock", REDLOCK_GUARANTEES, { inProcess: false }, async () => {
  const servers = await Promise.all([0, 1, 2].map(() => RedisServerProcess.start()));
  const urls = servers.map((s) => s.url);
  const proxies: TcpProxy[] = [];
  return {
    label: "redlock",
    ttlMs: 1000,
    async createClient(options) {
      return new LockClient(new RedlockBackend({ instances: urls }), options);
    },
    worker: { module: workerModule, config: { urls } },
    async createPartitionableClient(options) {
      const own = await Promise.all(servers.map((s) => TcpProxy.start(s.port)));
      proxies.push(...own);
      const instances = own.map((p) => `redis://127.0.0.1:${p.port}`);
      return {
        client: new LockClient(new RedlockBackend({ instances, operationTimeoutMs: 100 }), options),
        async cut() {
          for (const p of own) p.cut();
        },
        async heal() {
          for (const p of own) p.heal();
        },
      };
    },
    async close() {
      await Promise.all(proxies.map((p) => p.close()));
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
});

describe("redlock quorum rule", () => {
  it("holds only with a majority and time left after elapsed + drift", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.nat(7),
        fc.nat(7),
        fc.integer({ min: 10, max: 10_000 }),
        fc.nat(20_000),
        fc.nat(200),
        (total, grantedRaw, failedRaw, ttlMs, elapsedMs, driftMs) => {
          const granted = Math.min(grantedRaw, total);
          const failed = Math.min(failedRaw, total - granted);
          const verdict = judgeQuorum({ granted, failed, total, ttlMs, elapsedMs, driftMs });
          const majority = granted > total / 2;
          if (verdict.outcome === "held") {
            expect(majority).toBe(true);
            expect(elapsedMs + driftMs).toBeLessThan(ttlMs);
            expect(verdict.validityMs).toBe(ttlMs - elapsedMs - driftMs);
          } else if (verdict.outcome === "too-slow") {
            expect(majority).toBe(true);
            expect(elapsedMs + driftMs).toBeGreaterThanOrEqual(ttlMs);
          } else if (verdict.outcome === "unavailable") {
            expect(total - failed).toBeLessThan(quorumOf(total));
          } else {
            expect(majority).toBe(false);
            expect(total - failed).toBeGreaterThanOrEqual(quorumOf(total));
          }
        },
      ),
      { seed: 7, numRuns: 500 },
    );
  });
});

describe("redlock over live instances", () => {
  let servers: RedisServerProcess[] = [];
  const clients: LockClient<undefined>[] = [];

  beforeAll(async () => {
    servers = await Promise.all([0, 1, 2, 3, 4].map(() => RedisServerProcess.start()));
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.destroy()));
    await Promise.all(servers.map((s) => s.stop()));
  });

  function client(clock: Clock = systemClock): LockClient<undefined> {
    const c = new LockClient(
      new RedlockBackend({ instances: servers.map((s) => s.url), operationTimeoutMs: 200, clock }),
    );
    clients.push(c);
    return c;
  }

  it("types the fencing token as undefined", async () => {
    const lock = await client().acquire("typed");
    const token: undefined = lock.fencingToken;
    expect(token).toBeUndefined();
    await lock.release();
  });

  it("keeps mutual exclusion with a minority of instances stopped, fails loudly without a majority", async () => {
    const [a, b] = [client(), client()];
    servers[0]!.pause();
    servers[1]!.pause();
    try {
      const lock = await a.acquire("minority-down", { waitMs: 2000 });
      expect(await b.tryAcquire("minority-down")).toBeUndefined();
      await lock.release();
      servers[2]!.pause();
      await expect(b.tryAcquire("majority-down")).rejects.toMatchObject({
        code: "BACKEND_UNAVAILABLE",
      });
    } finally {
      for (const s of servers) s.resume();
    }
  });

  it("refuses a majority grant that took longer than TTL minus drift, and undoes it everywhere", async () => {
    // A clock that jumps 1 s every time it is read: every attempt looks slower than the TTL.
    let skewMs = 0;
    const slowClock: Clock = {
      now: () => {
        skewMs += 1000;
        return systemClock.now() + skewMs;
      },
      setTimer: systemClock.setTimer,
    };
    const name = "too-slow";
    expect(await client(slowClock).tryAcquire(name, { ttlMs: 500 })).toBeUndefined();
    const keys = resourceKeys("conclave:lock", "mutex", name);
    for (const server of servers) {
      const redis = new Redis(server.url);
      try {
        expect(await redis.exists(keys.main)).toBe(0);
      } finally {
        redis.disconnect();
      }
    }
    const lock = await client().tryAcquire(name);
    expect(lock).toBeDefined();
    await lock?.release();
  });
});
