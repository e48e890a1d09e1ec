import { fileURLToPath } from "node:url";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/errors.js";
import {
  ETCD_GUARANTEES,
  EtcdLockBackend,
  type EtcdLockBackendOptions,
} from "../../src/lock/etcd/index.js";
import {
  type Clock,
  LockAbortedError,
  LockClient,
  type LockHandle,
  LockLostError,
  NotLockOwnerError,
  systemClock,
} from "../../src/lock/index.js";
import { runLockConformance } from "./conformance.js";
import { EtcdServerProcess, requireSharedEtcd, SHARED_ETCD } from "./support/etcd-server.js";
import { waitersKeepTheirPlace } from "./support/queue-place.js";
import { sharedServerTarget } from "./support/server-target.js";
import { wallNowMs } from "./support/tasks.js";

const workerModule = fileURLToPath(new URL("./support/etcd-worker-client.ts", import.meta.url));

runLockConformance("etcd", ETCD_GUARANTEES, { inProcess: false }, async () => {
  await requireSharedEtcd();
  return sharedServerTarget({
    label: "etcd",
    serverPort: 2379,
    worker: { module: workerModule, config: { endpoint: SHARED_ETCD } },
    backend: () => new EtcdLockBackend({ etcd: SHARED_ETCD }),
    proxiedBackend: (proxyPort) =>
      new EtcdLockBackend({ etcd: `127.0.0.1:${proxyPort}`, operationTimeoutMs: 200 }),
  });
});

describe("etcd lock backend specifics", () => {
  const clients: LockClient<bigint>[] = [];
  let raw: Etcd3;
  const servers: EtcdServerProcess[] = [];

  beforeAll(async () => {
    await requireSharedEtcd();
    raw = new Etcd3({ hosts: SHARED_ETCD });
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.destroy()));
    raw.close();
    await Promise.all(servers.map((s) => s.stop()));
  });

  function client(options: Partial<EtcdLockBackendOptions> = {}): LockClient<bigint> {
    const c = new LockClient(new EtcdLockBackend({ etcd: SHARED_ETCD, ...options }));
    clients.push(c);
    return c;
  }

  const unique = (what: string) => `etcd-specifics/${what}/${process.pid}/${Date.now()}`;
  const queuePrefix = (kind: string, name: string) =>
    `conclave/lock/${kind}/${encodeURIComponent(name).replaceAll(".", "%2E")}/`;

  it("rejects bad options with InvalidArgumentError", () => {
    for (const keyPrefix of ["", "ends/with/slash/", "x".repeat(257)]) {
      expect(() => new EtcdLockBackend({ etcd: SHARED_ETCD, keyPrefix })).toThrow(
        InvalidArgumentError,
      );
    }
    expect(() => new EtcdLockBackend({ etcd: SHARED_ETCD, operationTimeoutMs: 0 })).toThrow(
      InvalidArgumentError,
    );
    for (const etcd of [undefined, "", [], [7]]) {
      expect(() => new EtcdLockBackend({ etcd } as unknown as EtcdLockBackendOptions)).toThrow(
        InvalidArgumentError,
      );
    }
  });

  it("keeps one key per holder under the name's queue, attached to its own lease", async () => {
    const name = unique("layout/with.dots");
    const lock = await client().acquire(name, { ttlMs: 1500 });
    const keys = await raw.getAll().prefix(queuePrefix("mutex", name)).keys();
    expect(keys).toHaveLength(1);
    const kv = await raw.kv.range({ key: Buffer.from(keys[0]!) });
    expect(BigInt(kv.kvs[0]!.create_revision)).toBe(lock.fencingToken);
    const ttl = await raw.leaseClient.leaseTimeToLive({ ID: kv.kvs[0]!.lease });
    expect(Number(ttl.grantedTTL)).toBe(2);
    await lock.release();
    expect(await raw.getAll().prefix(queuePrefix("mutex", name)).keys()).toEqual([]);
  });

  it("moves the key to a longer lease when renewed for longer, keeping its token", async () => {
    const name = unique("longer");
    const lock = await client().acquire(name, { ttlMs: 1000, autoRenew: false });
    await lock.extend(4000);
    const [key] = await raw.getAll().prefix(queuePrefix("mutex", name)).keys();
    const kv = await raw.kv.range({ key: Buffer.from(key!) });
    expect(BigInt(kv.kvs[0]!.create_revision)).toBe(lock.fencingToken);
    const ttl = await raw.leaseClient.leaseTimeToLive({ ID: kv.kvs[0]!.lease });
    expect(Number(ttl.grantedTTL)).toBe(4);
    expect(lock.remainingMs()).toBeGreaterThan(1000);
    await lock.release();
  });

  it("leaves no key behind an aborted wait", async () => {
    const name = unique("abort");
    const holder = await client().acquire(name);
    const controller = new AbortController();
    const waiting = client().acquire(name, {
      signal: controller.signal,
      onQueued: () => controller.abort(),
    });
    await expect(waiting).rejects.toBeInstanceOf(LockAbortedError);
    expect(await raw.getAll().prefix(queuePrefix("mutex", name)).keys()).toHaveLength(1);
    await holder.release();
  });

  it("fires the loss signal at once when the holder's lease is revoked behind its back", async () => {
    const name = unique("revoked");
    const lock = await client().acquire(name, { ttlMs: 30_000 });
    const [key] = await raw.getAll().prefix(queuePrefix("mutex", name)).keys();
    const kv = await raw.kv.range({ key: Buffer.from(key!) });
    const lost = new Promise<unknown>((resolve) => {
      lock.signal.addEventListener("abort", () => resolve(lock.signal.reason), { once: true });
    });
    await raw.leaseClient.leaseRevoke({ ID: kv.kvs[0]!.lease });
    expect(await lost).toBeInstanceOf(LockLostError);
    expect(lock.held).toBe(false);
    await expect(lock.release()).rejects.toBeInstanceOf(NotLockOwnerError);
  });

  it("keeps a waiter's place while it waits far longer than its ttlMs", async () => {
    const name = unique("long-wait");
    await waitersKeepTheirPlace([client(), client(), client()], name, 1000, async () => {
      const queue = await raw.kv.range({
        key: Buffer.from(queuePrefix("mutex", name)),
        range_end: Buffer.from(`${queuePrefix("mutex", name).slice(0, -1)}0`),
        sort_target: "Create",
        sort_order: "Ascend",
      });
      return queue.kvs.map((kv) => BigInt(kv.create_revision));
    });
  });

  /**
   * A holder and two queued waiters; the first waiter's lease ends while it
   * waits (`endLease`), so etcd deletes its key and the second waiter moves
   * up. When the holder releases, the second waiter must get the lock, and
   * the first must notice its key is gone and queue again behind it.
   */
  async function waiterLosesItsLease(
    name: string,
    firstWaiter: LockClient<bigint>,
    endLease: (prefix: string) => Promise<void>,
  ): Promise<void> {
    const holding = await client().acquire(name, { ttlMs: 5000 });
    const order: string[] = [];
    const queuedWaiter = (locks: LockClient<bigint>, label: string) =>
      new Promise<{ granted: Promise<LockHandle<bigint>> }>((resolveQueued) => {
        const granted = locks
          .acquire(name, { ttlMs: 1000, onQueued: () => resolveQueued({ granted }) })
          .then((lock) => {
            order.push(label);
            return lock;
          });
      });
    const first = await queuedWaiter(firstWaiter, "first waiter");
    const second = await queuedWaiter(client(), "second waiter");
    await endLease(queuePrefix("mutex", name));
    await holding.release();
    const secondLock = await second.granted;
    expect(order).toEqual(["second waiter"]);
    await secondLock.release();
    const firstLock = await first.granted;
    expect(order).toEqual(["second waiter", "first waiter"]);
    expect(holding.fencingToken < secondLock.fencingToken).toBe(true);
    expect(secondLock.fencingToken < firstLock.fencingToken).toBe(true);
    await firstLock.release().catch(() => {});
  }

  it("does not grant a waiter whose lease was revoked while it waited", async () => {
    await waiterLosesItsLease(unique("revoked-waiter"), client(), async (prefix) => {
      const queue = await raw.kv.range({
        key: Buffer.from(prefix),
        range_end: Buffer.from(`${prefix.slice(0, -1)}0`),
        sort_target: "Create",
        sort_order: "Ascend",
      });
      await raw.leaseClient.leaseRevoke({ ID: queue.kvs[1]!.lease });
    });
  });

  it("does not grant a waiter whose lease expired while it was stalled", async () => {
    // The stalled waiter's timers never fire: it stops renewing its waiting lease, as a paused process would.
    const frozen: Clock = { now: () => systemClock.now(), setTimer: () => () => {} };
    await waiterLosesItsLease(
      unique("stalled-waiter"),
      client({ clock: frozen }),
      async (prefix) => {
        const watcher = await raw.watch().prefix(prefix).create();
        await new Promise<void>((resolve) => watcher.once("delete", () => resolve()));
        await watcher.cancel();
      },
    );
  });

  it("fires the loss signal when its etcd server is killed, before the lease could end", async () => {
    const server = await EtcdServerProcess.start();
    servers.push(server);
    const ttlMs = 1000;
    const own = new LockClient(
      new EtcdLockBackend({ etcd: server.endpoint, operationTimeoutMs: 200 }),
    );
    clients.push(own);
    const lock = await own.acquire("server-kill", { ttlMs });
    const lostAtMs = new Promise<number>((resolve) => {
      lock.signal.addEventListener("abort", () => resolve(wallNowMs()), { once: true });
    });
    expect(lock.held).toBe(true);
    await server.kill();
    const killedAtMs = wallNowMs();
    const lost = await lostAtMs;
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    // No renewal succeeds once the server is dead: the signal comes a safety margin
    // before the last renewed lease ends, so within one TTL of the kill.
    expect(lost).toBeLessThan(killedAtMs + ttlMs);
  });
});
