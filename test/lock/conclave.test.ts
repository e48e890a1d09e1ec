import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConclaveClient } from "../../src/client/index.js";
import { InvalidArgumentError } from "../../src/errors.js";
import {
  CONCLAVE_GUARANTEES,
  ConclaveLockBackend,
  type ConclaveLockBackendOptions,
} from "../../src/lock/conclave/index.js";
import {
  BackendUnavailableError,
  LockClient,
  LockLostError,
  NotLockOwnerError,
} from "../../src/lock/index.js";
import { runLockConformance } from "./conformance.js";
import { type ConclaveTestCluster, startConclaveCluster } from "./support/conclave-cluster.js";

const workerModule = fileURLToPath(new URL("./support/conclave-worker-client.ts", import.meta.url));

runLockConformance("conclave", CONCLAVE_GUARANTEES, { inProcess: false }, async () => {
  const cluster = await startConclaveCluster();
  return {
    label: "conclave",
    ttlMs: 1000,
    async createClient(options) {
      return new LockClient(new ConclaveLockBackend({ endpoints: cluster.endpoints }), options);
    },
    worker: { module: workerModule, config: { endpoints: cluster.endpoints } },
    async createPartitionableClient(options) {
      const path = await cluster.partitionablePath();
      return {
        client: new LockClient(
          new ConclaveLockBackend({ endpoints: path.endpoints, operationTimeoutMs: 200 }),
          options,
        ),
        async cut() {
          path.cut();
        },
        async heal() {
          path.heal();
        },
      };
    },
    close: () => cluster.stop(),
  };
});

describe("conclave lock backend specifics", () => {
  let cluster: ConclaveTestCluster;
  let raw: ConclaveClient;
  const clients: LockClient<bigint>[] = [];

  beforeAll(async () => {
    cluster = await startConclaveCluster();
    raw = new ConclaveClient({ endpoints: cluster.endpoints });
  });

  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.destroy()));
    await raw?.close();
    await cluster?.stop();
  });

  function client(options: Partial<ConclaveLockBackendOptions> = {}): LockClient<bigint> {
    const c = new LockClient(
      new ConclaveLockBackend({
        endpoints: cluster.endpoints,
        ...options,
      } as ConclaveLockBackendOptions),
    );
    clients.push(c);
    return c;
  }

  const queuePrefix = (kind: string, name: string) =>
    `conclave/lock/${kind}/${encodeURIComponent(name).replaceAll(".", "%2E")}/`;

  it("rejects bad options with InvalidArgumentError", () => {
    const endpoints = ["http://127.0.0.1:1"];
    for (const keyPrefix of ["", "ends/with/slash/", "x".repeat(257)]) {
      expect(() => new ConclaveLockBackend({ endpoints, keyPrefix })).toThrow(InvalidArgumentError);
    }
    expect(() => new ConclaveLockBackend({ endpoints, operationTimeoutMs: 0 })).toThrow(
      InvalidArgumentError,
    );
    expect(() => new ConclaveLockBackend({ endpoints, recheckIntervalMs: -1 })).toThrow(
      InvalidArgumentError,
    );
    for (const bad of [
      {},
      { endpoints: [] },
      { endpoints: ["127.0.0.1:2379"] },
      { endpoints: [7] },
      { client: 5 },
      { client: raw, endpoints },
    ]) {
      expect(() => new ConclaveLockBackend(bad as unknown as ConclaveLockBackendOptions)).toThrow(
        InvalidArgumentError,
      );
    }
  });

  it("keeps one key per holder, attached to its own lease, with the token as create_revision", async () => {
    const locks = new LockClient(new ConclaveLockBackend({ client: raw }));
    clients.push(locks);
    const name = "layout/with.dots";
    const lock = await locks.acquire(name, { ttlMs: 1500 });
    const queue = await raw.range({ key: queuePrefix("mutex", name), prefix: true });
    expect(queue.kvs).toHaveLength(1);
    const kv = queue.kvs[0]!;
    expect(BigInt(kv.createRevision)).toBe(lock.fencingToken);
    const ttl = await raw.leaseTimeToLive(kv.lease);
    expect(ttl.grantedTtlSeconds).toBe(2);
    await lock.release();
    expect((await raw.range({ key: queuePrefix("mutex", name), prefix: true })).kvs).toEqual([]);
  });

  it("fires the loss signal at once when the holder's lease is revoked behind its back", async () => {
    const name = "revoked";
    const lock = await client().acquire(name, { ttlMs: 30_000 });
    const queue = await raw.range({ key: queuePrefix("mutex", name), prefix: true });
    const lost = new Promise<unknown>((resolve) => {
      lock.signal.addEventListener("abort", () => resolve(lock.signal.reason), { once: true });
    });
    await raw.leaseRevoke(queue.kvs[0]!.lease);
    expect(await lost).toBeInstanceOf(LockLostError);
    await expect(lock.release()).rejects.toBeInstanceOf(NotLockOwnerError);
  });

  it("frees a crashed holder's lock once the leader expires its lease", async () => {
    const name = "expiry";
    const crashed = client();
    const lock = await crashed.acquire(name, { ttlMs: 1000 });
    // Gone without a word: no release, no revoke, no more keep-alives.
    await crashed.destroy();
    expect((await raw.range({ key: queuePrefix("mutex", name), prefix: true })).kvs).toHaveLength(
      1,
    );
    const waiter = client().acquire(name, { waitMs: 10_000 });
    const next = await waiter;
    expect(next.fencingToken > lock.fencingToken).toBe(true);
    await next.release();
  });

  it("answers BackendUnavailableError when no member is reachable", async () => {
    const path = await cluster.partitionablePath();
    const locks = new LockClient(
      new ConclaveLockBackend({ endpoints: path.endpoints, operationTimeoutMs: 200 }),
    );
    clients.push(locks);
    path.cut();
    await expect(locks.tryAcquire("unreachable")).rejects.toBeInstanceOf(BackendUnavailableError);
    path.heal();
  });

  it("keeps granting in order across a leader change", async () => {
    const name = "leader-change";
    const first = await client().acquire(name, { ttlMs: 3000 });
    const second = client().acquire(name, { ttlMs: 3000, waitMs: 20_000 });
    const leader = cluster.members.find((m) => m.node.status().role === "leader")!;
    const other = cluster.members.find((m) => m !== leader)!;
    await leader.node.transferLeadership(other.id);
    await first.release();
    const next = await second;
    expect(next.fencingToken > first.fencingToken).toBe(true);
    await next.release();
  });
});
