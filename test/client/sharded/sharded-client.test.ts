import { afterEach, describe, expect, it, vi } from "vitest";
import { seededRandom } from "../../../src/client/backoff.js";
import { ClientError } from "../../../src/client/errors.js";
import {
  CrossShardError,
  ShardedClient,
  type ShardedClientOptions,
  WrongShardError,
} from "../../../src/client/sharded/index.js";
import { shardOf } from "../../../src/shard/keys.js";
import { FakeShardCluster } from "./fake-shard-cluster.js";

const clusters: FakeShardCluster[] = [];
const clients: ShardedClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(clusters.splice(0).map((c) => c.close()));
});

/** Two nodes, two shards on both: shard 1 led by node 1, shard 2 by node 2. */
async function twoNodes(placement?: (group: number) => number[]): Promise<FakeShardCluster> {
  const cluster = await FakeShardCluster.start({
    nodeCount: 2,
    shardCount: 2,
    replication: 2,
    placement: placement ?? ((g) => (g === 2 ? [2, 1] : [1, 2])),
  });
  clusters.push(cluster);
  return cluster;
}

function clientOf(endpoints: string[], options: Partial<ShardedClientOptions> = {}): ShardedClient {
  const client = new ShardedClient({
    endpoints,
    random: seededRandom(7),
    backoff: { baseMs: 5, maxMs: 20 },
    ...options,
  });
  clients.push(client);
  return client;
}

const PUT = "/v3/shard/kv/put";
const MAP = "/v3/shard/map";

describe("ShardedClient routing", () => {
  it("fetches the map once and sends each key to its shard's leader, naming the shard", async () => {
    const cluster = await twoNodes();
    const client = clientOf([cluster.url(1)]);
    const k1 = cluster.keyOn(1);
    const k2 = cluster.keyOn(2);
    const p1 = await client.put(k1, "v1");
    const p2 = await client.put(k2, "v2");
    expect(p1).toMatchObject({ shard: 1, revision: 2 });
    expect(p2).toMatchObject({ shard: 2, revision: 2 });
    expect(cluster.requests(MAP)).toHaveLength(1);
    const puts = cluster.requests(PUT);
    expect(puts.map((r) => [r.node, r.body?.["shard"]])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect((await client.get(k1))?.valueString).toBe("v1");
    expect((await client.get(k2))?.valueString).toBe("v2");
    expect(await client.get(cluster.keyOn(2, "absent"))).toBeUndefined();
    expect(client.shardOf(k1)).toBe(1);
    expect(client.shardOf(new TextEncoder().encode(k2))).toBe(2);
  });

  it("follows NOT_LEADER to the leaderUrl at once, keeping the write's idempotency key", async () => {
    const cluster = await twoNodes();
    const client = clientOf([cluster.url(1)]);
    await client.map();
    cluster.group(1).leader = 2; // an election the map has not caught up with
    const key = cluster.keyOn(1);
    await client.put(key, "v");
    const puts = cluster.requests(PUT);
    expect(puts.map((r) => r.node)).toEqual([1, 2]);
    expect(puts[0]?.idempotencyKey).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(puts[1]?.idempotencyKey).toBe(puts[0]?.idempotencyKey);
    // The hint is remembered: the next write to that shard goes straight to node 2.
    await client.put(key, "w");
    expect(cluster.requests(PUT).map((r) => r.node)).toEqual([1, 2, 2]);
    expect(cluster.requests(PUT)[2]?.idempotencyKey).not.toBe(puts[0]?.idempotencyKey);
  });

  it("resends a write whose answer was lost with the same idempotency key; it applies once", async () => {
    const cluster = await twoNodes();
    const client = clientOf([cluster.url(1)]);
    let dropped = false;
    cluster.intercepts.push((r) => {
      if (r.url !== PUT || dropped) return undefined;
      dropped = true;
      return { applyThenDrop: true };
    });
    const key = cluster.keyOn(1);
    const result = await client.put(key, "once");
    const puts = cluster.requests(PUT);
    expect(puts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(puts.map((r) => r.idempotencyKey)).size).toBe(1);
    expect(result.revision).toBe(2);
    expect(cluster.storeOf(1).revision).toBe(2);
  });

  it("retries NO_LEADER after a backoff and gives up with the server's error once attempts run out", async () => {
    const cluster = await twoNodes();
    const client = clientOf([cluster.url(1)], { maxAttempts: 3 });
    let refusals = 2;
    cluster.intercepts.push((r) =>
      r.url === PUT && refusals-- > 0
        ? { status: 503, body: { code: "NO_LEADER", message: "no leader yet" } }
        : undefined,
    );
    await client.put(cluster.keyOn(1), "v");
    expect(new Set(cluster.requests(PUT).map((r) => r.idempotencyKey)).size).toBe(1);

    cluster.intercepts = [
      (r) =>
        r.url === PUT
          ? { status: 503, body: { code: "NO_LEADER", message: "no leader" } }
          : undefined,
    ];
    const before = cluster.requests(PUT).length;
    const error = await client.put(cluster.keyOn(1), "v").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).code).toBe("NO_LEADER");
    expect(cluster.requests(PUT).length - before).toBe(3);
  });

  it("on WRONG_SHARD fetches the newer map and goes where it says", async () => {
    const cluster = await twoNodes((g) => (g === 2 ? [2] : [1]));
    const client = clientOf([cluster.url(1)]);
    expect((await client.map()).revision).toBe(1);
    cluster.update(1, { replicas: [2], leader: 2 }); // shard 1 moved to node 2
    const key = cluster.keyOn(1);
    const result = await client.put(key, "moved");
    expect(result.shard).toBe(1);
    expect(cluster.requests(PUT).map((r) => r.node)).toEqual([1, 2]);
    expect(cluster.requests(MAP)).toHaveLength(2);
    expect(client.cachedMap?.revision).toBe(2);
    expect(client.cachedMap?.groups.find((g) => g.group === 1)).toMatchObject({
      epoch: 2,
      replicas: [2],
    });
    expect((await client.get(key))?.valueString).toBe("moved");
    expect(cluster.requests("/v3/shard/kv/range").map((r) => r.node)).toEqual([2]);
  });

  it("follows the replicas a WRONG_SHARD names when no node has the newer map yet", async () => {
    const cluster = await twoNodes((g) => (g === 2 ? [2] : [1]));
    const client = clientOf([cluster.url(1)], { maxAttempts: 4 });
    await client.map();
    const stale = cluster.snapshot();
    cluster.update(1, { replicas: [2], leader: 2 });
    // Both nodes still serve the old map, but node 1's WRONG_SHARD names node 2.
    cluster.staleMaps.set(1, stale);
    cluster.staleMaps.set(2, stale);
    cluster.intercepts.push((r) =>
      r.url === PUT && r.node === 1
        ? {
            status: 421,
            body: {
              code: "WRONG_SHARD",
              message: "not here",
              shard: 1,
              epoch: 2,
              replicas: [{ id: 2, client: cluster.url(2) }],
            },
          }
        : undefined,
    );
    await client.put(cluster.keyOn(1), "v");
    expect(cluster.requests(PUT).map((r) => r.node)).toEqual([1, 2]);
  });

  it("ends with WrongShardError when no node hosts the shard before the attempts run out", async () => {
    const cluster = await twoNodes((g) => (g === 2 ? [2] : [1]));
    const client = clientOf([cluster.url(1)], { maxAttempts: 3 });
    await client.map();
    cluster.group(1).replicas = []; // nobody hosts it, and the map does not say so
    const error = await client.put(cluster.keyOn(1), "v").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WrongShardError);
    expect((error as WrongShardError).shard).toBe(1);
  });

  it("fetches the map again when an answer carries a newer epoch than the map's", async () => {
    const cluster = await twoNodes();
    const client = clientOf([cluster.url(1)]);
    await client.map();
    cluster.update(1, { replicas: [1, 2] }); // a new epoch, same leader
    await client.put(cluster.keyOn(1), "v");
    await vi.waitFor(() => expect(client.cachedMap?.revision).toBe(2));
    expect(client.cachedMap?.groups.find((g) => g.group === 1)?.epoch).toBe(2);
  });

  it("falls back to the map's nodes when the configured endpoint is down", async () => {
    const cluster = await twoNodes();
    const client = clientOf([cluster.url(1)]);
    await client.map();
    await cluster.nodes[0]!.app.close();
    cluster.group(1).leader = 2;
    await client.put(cluster.keyOn(1), "v");
    expect(cluster.requests(PUT).map((r) => r.node)).toEqual([2]);
  });
});

describe("ShardedClient txn", () => {
  it("refuses keys of different shards before sending anything", async () => {
    const cluster = await twoNodes();
    const client = clientOf([cluster.url(1)]);
    const error = await client
      .txn({
        compare: [{ key: cluster.keyOn(1), target: "version", value: 0 }],
        success: [{ type: "put", key: cluster.keyOn(2), value: "x" }],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrossShardError);
    expect((error as CrossShardError).code).toBe("CROSS_SHARD");
    expect((error as CrossShardError).shards).toEqual([1, 2]);
    expect((error as CrossShardError).status).toBeUndefined();
    expect(cluster.requests("/v3/shard/kv/txn")).toHaveLength(0);
  });

  it("runs keys sharing a hash tag on their one shard", async () => {
    const cluster = await twoNodes();
    const client = clientOf([cluster.url(2)]);
    const a = "user:{42}:name";
    const b = "user:{42}:email";
    const shard = shardOf(new TextEncoder().encode("42"), 2);
    const result = await client.txn({
      compare: [{ key: a, target: "version", value: 0 }],
      success: [
        { type: "put", key: a, value: "ada" },
        { type: "put", key: b, value: "ada@example.com" },
      ],
    });
    expect(result).toMatchObject({ succeeded: true, shard });
    const sent = cluster.requests("/v3/shard/kv/txn");
    expect(sent.map((r) => [r.node, r.body?.["shard"]])).toEqual([[shard, shard]]);
    expect(sent[0]?.idempotencyKey).toBeDefined();
    expect((await client.get(b))?.valueString).toBe("ada@example.com");
  });

  it("surfaces the server's CROSS_SHARD as CrossShardError without retrying", async () => {
    const cluster = await twoNodes();
    const client = clientOf([cluster.url(1)]);
    cluster.intercepts.push((r) =>
      r.url === "/v3/shard/kv/txn"
        ? { status: 400, body: { code: "CROSS_SHARD", message: "keys span shards" } }
        : undefined,
    );
    const key = cluster.keyOn(1);
    const error = await client
      .txn({ success: [{ type: "put", key, value: "v" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrossShardError);
    expect((error as CrossShardError).status).toBe(400);
    expect(cluster.requests("/v3/shard/kv/txn")).toHaveLength(1);
  });

  it("takes an explicit shard for a txn that names no key", async () => {
    const cluster = await twoNodes();
    const client = clientOf([cluster.url(1)]);
    await expect(client.txn({})).rejects.toBeInstanceOf(CrossShardError);
    const result = await client.txn({}, { shard: 2 });
    expect(result).toMatchObject({ shard: 2, succeeded: true });
    await expect(client.txn({}, { shard: 3 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});

describe("ShardedClient range", () => {
  async function filled() {
    const cluster = await twoNodes();
    const client = clientOf([cluster.url(1)]);
    const keys = Array.from({ length: 12 }, (_, i) => `a${String(i).padStart(2, "0")}`);
    for (const k of keys) await client.put(k, `v-${k}`);
    await client.put("b0", "other prefix");
    return { cluster, client, keys };
  }

  it("asks every shard and merges in key order, with each shard's own revision", async () => {
    const { cluster, client, keys } = await filled();
    const onShard1 = keys.filter((k) => client.shardOf(k) === 1);
    expect(onShard1.length).toBeGreaterThan(0);
    expect(onShard1.length).toBeLessThan(keys.length);
    const result = await client.range("a");
    expect(result.kvs.map((kv) => kv.keyString)).toEqual(keys);
    expect(result.kvs[3]?.valueString).toBe(`v-${keys[3]}`);
    expect(result.count).toBe(keys.length);
    expect(result.more).toBe(false);
    expect([...result.revisions.entries()].sort()).toEqual([
      [1, cluster.storeOf(1).revision],
      [2, cluster.storeOf(2).revision],
    ]);
    expect(cluster.storeOf(1).revision).not.toBe(cluster.storeOf(2).revision);
    const ranges = cluster.requests("/v3/shard/kv/range");
    expect(ranges.map((r) => [r.node, r.body?.["shard"]]).sort()).toEqual([
      [1, 1],
      [2, 2],
    ]);
    // Everything: the empty prefix.
    expect((await client.range("")).kvs.map((kv) => kv.keyString)).toEqual([...keys, "b0"]);
  });

  it("applies the limit across shards and reads [key, rangeEnd)", async () => {
    const { client, keys } = await filled();
    const limited = await client.range("a", undefined, { limit: 5 });
    expect(limited.kvs.map((kv) => kv.keyString)).toEqual(keys.slice(0, 5));
    expect(limited.more).toBe(true);
    const between = await client.range("a03", "a07");
    expect(between.kvs.map((kv) => kv.keyString)).toEqual(keys.slice(3, 7));
    const fromOn = await client.range("a10", "\0");
    expect(fromOn.kvs.map((kv) => kv.keyString)).toEqual(["a10", "a11", "b0"]);
  });

  it("follows a shard's pages at that shard's first revision", async () => {
    const { cluster, client, keys } = await filled();
    cluster.pageSize = 2;
    const before = cluster.requests("/v3/shard/kv/range").length;
    const result = await client.range("a");
    expect(result.kvs.map((kv) => kv.keyString)).toEqual(keys);
    const pages = cluster.requests("/v3/shard/kv/range").slice(before);
    expect(pages.length).toBeGreaterThan(2);
    for (const page of pages.filter((p) => (p.body?.["revision"] ?? 0) !== 0)) {
      const shard = page.body?.["shard"] as number;
      expect(page.body?.["revision"]).toBe(result.revisions.get(shard));
    }
  });

  it("fails the whole range when one shard cannot be read", async () => {
    const { cluster, client } = await filled();
    cluster.intercepts.push((r) =>
      r.url === "/v3/shard/kv/range" && r.body?.["shard"] === 2
        ? { status: 400, body: { code: "INVALID_ARGUMENT", message: "bad range" } }
        : undefined,
    );
    await expect(client.range("a")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});

describe("ShardedClient controller calls", () => {
  async function threeNodes() {
    const cluster = await FakeShardCluster.start({
      nodeCount: 3,
      shardCount: 2,
      replication: 2,
      placement: (g) => (g === 2 ? [2, 3] : [1, 2]),
    });
    clusters.push(cluster);
    cluster.controller = 3;
    return cluster;
  }

  it("follows NOT_CONTROLLER to the controller and remembers it", async () => {
    const cluster = await threeNodes();
    const client = clientOf([cluster.url(1)]);
    const status = await client.status();
    expect(status.controller).toBe(3);
    expect(status.nodes.map((n) => [n.id, n.live, n.replicas])).toEqual([
      [1, true, 2],
      [2, true, 3],
      [3, true, 1],
    ]);
    expect(status.groups.every((g) => g.settled)).toBe(true);
    expect(cluster.requests("/v3/shard/status").map((r) => r.node)).toEqual([1, 3]);

    await client.drain(2, true);
    expect(cluster.requests("/v3/shard/drain").map((r) => [r.node, r.body])).toEqual([
      [3, { node: 2, draining: true }],
    ]);
    expect(cluster.draining.has(2)).toBe(true);
    await client.drain(2, false);
    expect(cluster.draining.has(2)).toBe(false);
  });

  it("moves a replica and reports the new epoch; a refused move is not retried", async () => {
    const cluster = await threeNodes();
    const client = clientOf([cluster.url(2)]);
    expect(await client.move(1, 1, 3)).toEqual({ epoch: 2 });
    expect(cluster.group(1).replicas).toEqual([3, 2]);
    const error = await client.move(1, 1, 3).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "INVALID_ARGUMENT", status: 400 });
    expect(cluster.requests("/v3/shard/move").filter((r) => r.node === 3)).toHaveLength(2);
    await expect(client.move(1, 0, 3)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});

describe("ShardedClient lifecycle", () => {
  it("needs a map for shardOf, and refuses calls once closed", async () => {
    const cluster = await twoNodes();
    const client = clientOf([cluster.url(1)]);
    expect(() => client.shardOf("k")).toThrow(/map/);
    await client.map();
    client.close();
    await expect(client.get("k")).rejects.toMatchObject({ code: "CLIENT_CLOSED" });
  });

  it("ends within requestTimeoutMs when no endpoint answers", async () => {
    const client = clientOf(["http://127.0.0.1:9"], { requestTimeoutMs: 300, maxAttempts: 1000 });
    const started = Date.now();
    const error = await client.get("k").catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error).toMatchObject({ code: "UNAVAILABLE" });
  });
});
