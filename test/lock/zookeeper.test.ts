import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/errors.js";
import {
  LockAbortedError,
  LockClient,
  type LockHandle,
  LockLostError,
  NotLockOwnerError,
  systemClock,
} from "../../src/lock/index.js";
import {
  ZOOKEEPER_GUARANTEES,
  ZooKeeperLockBackend,
  type ZooKeeperLockBackendOptions,
} from "../../src/lock/zookeeper/index.js";
import { ZK_CREATE_MODE } from "../../src/lock/zookeeper/library.js";
import { createOwnNode } from "../../src/lock/zookeeper/own-node.js";
import { ZkSession } from "../../src/lock/zookeeper/session.js";
import { TcpProxy } from "../support/tcp-proxy.js";
import { runLockConformance } from "./conformance.js";
import { waitersKeepTheirPlace } from "./support/queue-place.js";
import { ReplyDroppingProxy } from "./support/reply-dropping-proxy.js";
import { sharedServerTarget } from "./support/server-target.js";
import { wallNowMs } from "./support/tasks.js";
import {
  requireSharedZooKeeper,
  SHARED_ZOOKEEPER,
  ZooKeeperServerProcess,
} from "./support/zookeeper-server.js";

const workerModule = fileURLToPath(
  new URL("./support/zookeeper-worker-client.ts", import.meta.url),
);

runLockConformance("zookeeper", ZOOKEEPER_GUARANTEES, { inProcess: false }, async () => {
  await requireSharedZooKeeper();
  return sharedServerTarget({
    label: "zookeeper",
    serverPort: 2181,
    worker: { module: workerModule, config: { connectString: SHARED_ZOOKEEPER } },
    backend: () => new ZooKeeperLockBackend({ connectString: SHARED_ZOOKEEPER }),
    proxiedBackend: (proxyPort) =>
      new ZooKeeperLockBackend({
        connectString: `127.0.0.1:${proxyPort}`,
        operationTimeoutMs: 200,
      }),
  });
});

describe("zookeeper lock backend specifics", () => {
  const clients: LockClient<bigint>[] = [];
  const sessions: ZkSession[] = [];
  let raw: ZkSession;
  const servers: ZooKeeperServerProcess[] = [];

  const openSession = async (
    connectString = SHARED_ZOOKEEPER,
    requestedTimeoutMs = 10_000,
    resume?: { sessionId: Buffer; password: Buffer },
  ) => {
    const session = await ZkSession.open({
      connectString,
      requestedTimeoutMs,
      operationTimeoutMs: 2000,
      clock: systemClock,
      ...(resume === undefined ? {} : { resume }),
    });
    sessions.push(session);
    return session;
  };

  beforeAll(async () => {
    await requireSharedZooKeeper();
    raw = await openSession();
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.destroy()));
    await Promise.allSettled(sessions.map((s) => s.close()));
    await Promise.all(servers.map((s) => s.stop()));
  });

  function client(options: Partial<ZooKeeperLockBackendOptions> = {}): LockClient<bigint> {
    const c = new LockClient(
      new ZooKeeperLockBackend({ connectString: SHARED_ZOOKEEPER, ...options }),
    );
    clients.push(c);
    return c;
  }

  const unique = (what: string) => `zk-specifics/${what}/${process.pid}/${Date.now()}`;
  const queuePath = (kind: string, name: string) =>
    `/conclave/lock/${kind}/${encodeURIComponent(name).replaceAll(".", "%2E")}`;
  const childrenOf = async (path: string) =>
    ((await raw.children(path, "test")).value ?? []).sort();

  it("rejects bad options with InvalidArgumentError", async () => {
    expect(() => new ZooKeeperLockBackend({ connectString: "" })).toThrow(InvalidArgumentError);
    for (const rootPath of ["relative", "/trailing/", "/a//b", "/a/../b", "/zookeeper/x", "/é"]) {
      expect(() => new ZooKeeperLockBackend({ connectString: SHARED_ZOOKEEPER, rootPath })).toThrow(
        InvalidArgumentError,
      );
    }
    // Longer than the server's maxSessionTimeout (120 s in the test configuration).
    await expect(client().acquire(unique("too-long"), { ttlMs: 200_000 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it("holds a lock as one ephemeral sequential znode whose czxid is the fencing token", async () => {
    const name = unique("layout/with.dots");
    const lock = await client().acquire(name, { ttlMs: 1500 });
    const [child, ...others] = await childrenOf(queuePath("mutex", name));
    expect(others).toEqual([]);
    expect(child).toMatch(/^lock-[0-9a-f]+-\d{10}$/);
    const { value: stat } = await raw.exists(`${queuePath("mutex", name)}/${child}`, "test");
    expect(stat!.czxid.readBigUInt64BE(0)).toBe(lock.fencingToken);
    expect(stat!.ephemeralOwner.readBigUInt64BE(0)).not.toBe(0n);
    await lock.release();
    expect(await childrenOf(queuePath("mutex", name))).toEqual([]);
  });

  it("keeps fencing tokens increasing when the queue's parent is deleted and its sequence restarts", async () => {
    const name = unique("parent-recreated");
    const locks = client();
    const before = await locks.acquire(name);
    const [firstChild] = await childrenOf(queuePath("mutex", name));
    await before.release();
    expect(await raw.remove(queuePath("mutex", name), "test")).toBe(true);
    // The same client: it believes the parent exists, and must create it again.
    const after = await locks.acquire(name);
    const [secondChild] = await childrenOf(queuePath("mutex", name));
    expect(secondChild!.slice(-10)).toBe(firstChild!.slice(-10));
    expect(after.fencingToken > before.fencingToken).toBe(true);
    await after.release();
  });

  it("leaves no znode behind an aborted wait", async () => {
    const name = unique("abort");
    const holder = await client().acquire(name);
    const controller = new AbortController();
    const waiting = client().acquire(name, {
      signal: controller.signal,
      onQueued: () => controller.abort(),
    });
    await expect(waiting).rejects.toBeInstanceOf(LockAbortedError);
    expect(await childrenOf(queuePath("mutex", name))).toHaveLength(1);
    await holder.release();
  });

  it("fires the loss signal at once when the holder's znode is deleted behind its back", async () => {
    const name = unique("deleted");
    const lock = await client().acquire(name, { ttlMs: 30_000 });
    const lost = new Promise<unknown>((resolve) => {
      lock.signal.addEventListener("abort", () => resolve(lock.signal.reason), { once: true });
    });
    const [child] = await childrenOf(queuePath("mutex", name));
    await raw.remove(`${queuePath("mutex", name)}/${child}`, "test");
    expect(await lost).toBeInstanceOf(LockLostError);
    await expect(lock.release()).rejects.toBeInstanceOf(NotLockOwnerError);
  });

  it("keeps a waiter's place while it waits far longer than its ttlMs", async () => {
    const name = unique("long-wait");
    await waitersKeepTheirPlace([client(), client(), client()], name, 1000, async () => {
      const parent = queuePath("mutex", name);
      const children = (await childrenOf(parent)).sort((a, b) =>
        a.slice(-10).localeCompare(b.slice(-10)),
      );
      const stats = await Promise.all(children.map((c) => raw.exists(`${parent}/${c}`, "test")));
      return stats.map(({ value }) => value!.czxid.readBigUInt64BE(0));
    });
  });

  it("does not grant a waiter whose znode vanished while it waited; it queues again behind the others", async () => {
    const name = unique("vanished-waiter");
    const holding = await client().acquire(name, { ttlMs: 5000 });
    const order: string[] = [];
    const queuedWaiter = (label: string) =>
      new Promise<{ granted: Promise<LockHandle<bigint>> }>((resolveQueued) => {
        const granted = client()
          .acquire(name, { ttlMs: 5000, onQueued: () => resolveQueued({ granted }) })
          .then((lock) => {
            order.push(label);
            return lock;
          });
      });
    const first = await queuedWaiter("first waiter");
    const second = await queuedWaiter("second waiter");
    const queue = await childrenOf(queuePath("mutex", name));
    const bySequence = queue.sort((a, b) => a.slice(-10).localeCompare(b.slice(-10)));
    await raw.remove(`${queuePath("mutex", name)}/${bySequence[1]}`, "test");
    await holding.release();
    const secondLock = await second.granted;
    expect(order).toEqual(["second waiter"]);
    await secondLock.release();
    const firstLock = await first.granted;
    expect(order).toEqual(["second waiter", "first waiter"]);
    expect(holding.fencingToken < secondLock.fencingToken).toBe(true);
    expect(secondLock.fencingToken < firstLock.fencingToken).toBe(true);
    await firstLock.release();
  });

  it("reports a session ended from outside: its ephemeral znodes go and `ended` aborts", async () => {
    const proxy = await TcpProxy.start(2181);
    try {
      const session = await openSession(`127.0.0.1:${proxy.port}`, 20_000);
      const path = await session.create(
        `${queuePath("mutex", unique("expiry"))}-x`,
        Buffer.alloc(0),
        ZK_CREATE_MODE.EPHEMERAL,
        "test",
      );
      const ended = new Promise<void>((resolve) =>
        session.ended.addEventListener("abort", () => resolve(), { once: true }),
      );
      // Expire the session from outside: while its own connection is held
      // still, resume it on another connection and close it there.
      proxy.cut();
      const twin = await openSession(SHARED_ZOOKEEPER, 20_000, {
        sessionId: session.sessionId,
        password: session.password,
      });
      await twin.close();
      expect((await raw.exists(path, "test")).value).toBeUndefined();
      // Reconnecting, the session's owner learns it expired.
      proxy.heal();
      await ended;
      expect(session.ended.aborted).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it("finds its own znode by owner id when the reply to its create was lost", async () => {
    const proxy = await ReplyDroppingProxy.start(2181);
    try {
      const session = await openSession(`127.0.0.1:${proxy.port}`, 20_000);
      const parent = queuePath("mutex", unique("lost-reply"));
      await session.mkdirp(parent, "test");
      proxy.dropNextReply();
      const prefix = "lock-0123456789abcdef0123456789abcdef-";
      const created = await createOwnNode(session, parent, prefix, Buffer.alloc(0), "test");
      expect(proxy.dropped).toBe(1);
      expect(created.recovered).toBe(true);
      expect(await childrenOf(parent)).toEqual([created.node]);
      await session.close();
      expect(await childrenOf(parent)).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it("fires the loss signal when its ZooKeeper server is killed, before the session could expire", async () => {
    const server = await ZooKeeperServerProcess.start();
    servers.push(server);
    const ttlMs = 1000;
    const own = client({ connectString: server.connectString, operationTimeoutMs: 1000 });
    // The first writes of a fresh server are slow (it preallocates its log); get past them.
    await (await own.acquire("warm-up", { ttlMs })).release();
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
