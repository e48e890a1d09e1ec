/**
 * npm etcd3 (etcd's gRPC API as a typical Node service uses it) against a
 * Conclave cluster: KV, txns, leases with attached keys, and watches.
 */
import type { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait-for.js";
import { type GrpcCluster, startGrpcCluster } from "./grpc-cluster.js";

describe("npm etcd3 against Conclave's gRPC API", () => {
  let cluster: GrpcCluster;
  let client: Etcd3;

  beforeAll(async () => {
    cluster = await startGrpcCluster();
    await cluster.leader();
    client = cluster.etcd3();
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it("puts, gets, lists a prefix, counts and deletes", async () => {
    await client.put("e3/a").value("1");
    await client.put("e3/b").value("2");
    await client.put("e3/c").value("3");
    expect(await client.get("e3/a").string()).toBe("1");
    expect(await client.get("e3/none").string()).toBeNull();
    expect(await client.getAll().prefix("e3/").strings()).toEqual({
      "e3/a": "1",
      "e3/b": "2",
      "e3/c": "3",
    });
    expect(await client.getAll().prefix("e3/").count()).toBe(3);
    expect(await client.getAll().prefix("e3/").limit(1).keys()).toEqual(["e3/a"]);
    const deleted = await client.delete().key("e3/b").getPrevious();
    expect(deleted.map((kv) => kv.value.toString())).toEqual(["2"]);
    expect(await client.getAll().prefix("e3/").keys()).toEqual(["e3/a", "e3/c"]);
    await client.delete().prefix("e3/");
    expect(await client.getAll().prefix("e3/").count()).toBe(0);
  });

  it("runs an if/then/else txn", async () => {
    await client.put("e3t/k").value("old");
    const won = await client
      .if("e3t/k", "Value", "==", "old")
      .then(client.put("e3t/k").value("new"))
      .else(client.get("e3t/k"))
      .commit();
    expect(won.succeeded).toBe(true);
    const lost = await client
      .if("e3t/k", "Value", "==", "old")
      .then(client.put("e3t/k").value("newer"))
      .else(client.get("e3t/k"))
      .commit();
    expect(lost.succeeded).toBe(false);
    expect(lost.responses[0]?.response_range?.kvs[0]?.value.toString()).toBe("new");
    const versions = await client.if("e3t/k", "Version", ">", 1).then().commit();
    expect(versions.succeeded).toBe(true);
  });

  it("grants a lease, attaches keys, reads its TTL and revokes it", async () => {
    const lease = client.lease(30, { autoKeepAlive: false });
    await lease.put("e3l/k").value("v");
    const id = await lease.grant();
    const ttl = await client.get("e3l/k").exec();
    expect(ttl.kvs[0]?.lease).toBe(id);
    const renewed = await lease.keepaliveOnce();
    expect(Number(renewed.TTL)).toBeGreaterThan(0);
    await lease.revoke();
    expect(await client.get("e3l/k").string()).toBeNull();
  });

  it("watches a prefix: puts and deletes arrive in order", { timeout: 15_000 }, async () => {
    const seen: string[] = [];
    const watcher = await client.watch().prefix("e3w/").create();
    watcher.on("put", (kv) => seen.push(`put ${kv.key.toString()}=${kv.value.toString()}`));
    watcher.on("delete", (kv) => seen.push(`delete ${kv.key.toString()}`));
    await client.put("e3w/a").value("1");
    await client.put("e3w/a").value("2");
    await client.delete().key("e3w/a");
    await waitFor(() => seen.length >= 3, "three watch events");
    expect(seen).toEqual(["put e3w/a=1", "put e3w/a=2", "delete e3w/a"]);
    await watcher.cancel();
  });

  it("watches from a past revision", { timeout: 15_000 }, async () => {
    const first = await client.put("e3h/k").value("1").exec();
    await client.put("e3h/k").value("2");
    const seen: string[] = [];
    const watcher = await client.watch().key("e3h/k").startRevision(first.header.revision).create();
    watcher.on("put", (kv) => seen.push(kv.value.toString()));
    await waitFor(() => seen.length >= 2, "the replayed history");
    expect(seen).toEqual(["1", "2"]);
    await watcher.cancel();
  });
});
