import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CompactedError, type ConclaveClient, UnavailableError } from "../../src/client/index.js";
import { type HttpCluster, startHttpCluster } from "../server/http-cluster.js";
import { freePort } from "../support/free-port.js";

let cluster: HttpCluster;
let client: ConclaveClient;

beforeAll(async () => {
  // Followers answer NOT_LEADER rather than forward, so the SDK's own redirect
  // (leaderUrl) is what runs here; test/server/leader-forward.test.ts covers forwarding.
  cluster = await startHttpCluster({ maxLeaderForwards: 0 });
  await cluster.leader();
  client = cluster.client();
});
afterAll(async () => {
  await cluster.stop();
});

describe("ConclaveClient key space", () => {
  it("puts, gets, ranges and deletes", async () => {
    const put = await client.put("kv/a", "1");
    expect(put.revision).toBeGreaterThan(1);
    const again = await client.put("kv/a", "2", { prevKv: true });
    expect(again.prevKv?.valueString).toBe("1");
    await client.put("kv/b", new Uint8Array([0, 255]));

    const a = await client.get("kv/a");
    expect(a?.valueString).toBe("2");
    expect(a?.keyString).toBe("kv/a");
    expect(a?.version).toBe(2);
    expect(a?.createRevision).toBe(put.revision);
    expect(await client.get("kv/missing")).toBeUndefined();
    expect((await client.get("kv/a", { revision: put.revision }))?.valueString).toBe("1");

    const range = await client.range({ key: "kv/", prefix: true });
    expect(range.count).toBe(2);
    expect(range.kvs.map((kv) => kv.keyString)).toEqual(["kv/a", "kv/b"]);
    expect([...range.kvs[1]!.value]).toEqual([0, 255]);

    const desc = await client.range({ key: "kv/", prefix: true, sortOrder: "descend", limit: 1 });
    expect(desc.kvs.map((kv) => kv.keyString)).toEqual(["kv/b"]);
    expect(desc.more).toBe(true);
    const count = await client.range({ key: "kv/", prefix: true, countOnly: true });
    expect(count.count).toBe(2);
    expect(count.kvs).toEqual([]);

    const del = await client.delete("kv/", { prefix: true, prevKv: true });
    expect(del.deleted).toBe(2);
    expect(del.prevKvs.map((kv) => kv.keyString)).toEqual(["kv/a", "kv/b"]);
    expect(await client.get("kv/a")).toBeUndefined();
  });

  it("runs a txn with compares, branches and nested responses", async () => {
    await client.put("tx/k", "v1");
    const swap = (expected: string) =>
      client.txn({
        compare: [{ key: "tx/k", target: "value", value: expected }],
        success: [
          { type: "put", key: "tx/k", value: "v2" },
          { type: "range", key: "tx/k" },
        ],
        failure: [{ type: "range", key: "tx/k" }],
      });
    const won = await swap("v1");
    expect(won.succeeded).toBe(true);
    expect(won.responses.map((r) => r.type)).toEqual(["put", "range"]);
    const read = won.responses[1];
    expect(read?.type === "range" && read.kvs[0]?.valueString).toBe("v2");
    const lost = await swap("v1");
    expect(lost.succeeded).toBe(false);
    const current = lost.responses[0];
    expect(current?.type === "range" && current.kvs[0]?.valueString).toBe("v2");

    const versioned = await client.txn({
      compare: [{ key: "tx/k", target: "version", result: "greater", value: 1 }],
      success: [{ type: "txn", success: [{ type: "delete", key: "tx/k", prevKv: true }] }],
    });
    expect(versioned.succeeded).toBe(true);
    const nested = versioned.responses[0];
    expect(nested?.type).toBe("txn");
    if (nested?.type !== "txn") throw new Error("expected a nested txn");
    const deleted = nested.responses[0];
    expect(deleted?.type === "delete" && deleted.deleted).toBe(1);
  });

  it("compacts, then reads below the compaction point fail with CompactedError", async () => {
    const first = await client.put("cp/k", "1");
    await client.put("cp/k", "2");
    await client.compact(first.revision + 1);
    const error = await client.get("cp/k", { revision: first.revision }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CompactedError);
    expect((error as CompactedError).compactRevision).toBe(first.revision + 1);
    expect((error as CompactedError).status).toBe(400);
  });

  it("finds the leader from a follower-first endpoint list and remembers it", async () => {
    const leader = await cluster.leader();
    const followers = await cluster.followers();
    const c = cluster.client({
      endpoints: [...followers.map((f) => cluster.urlOf(f.id)), cluster.urlOf(leader.id)],
    });
    expect(c.preferredEndpoint).toBe(cluster.urlOf(followers[0]!.id));
    await c.put("ld/k", "v");
    expect(c.preferredEndpoint).toBe(cluster.urlOf(leader.id));
    // Reads work on a follower too (ReadIndex).
    const f = cluster.client({ endpoints: [cluster.urlOf(followers[1]!.id)] });
    expect((await f.get("ld/k"))?.valueString).toBe("v");
    // A client that only knows a follower still writes: it follows leaderUrl.
    await f.put("ld/k", "w");
    expect(f.preferredEndpoint).toBe(cluster.urlOf(leader.id));
  });

  it("is unavailable when no endpoint answers before the deadline", async () => {
    const c = cluster.client({
      endpoints: [`http://127.0.0.1:${await freePort()}`],
      timeoutMs: 1000,
    });
    const error = await c.get("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
  });
});
