/**
 * Any language can discover: registrations made with the registry are read
 * through Conclave's etcd API in etcd's naming format — by etcdctl, and by
 * an etcd client's list-then-watch on the service prefix, as Go's etcd gRPC
 * resolver does (target `etcd:///services/<service>`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConclaveClient } from "../../src/client/index.js";
import { Registry } from "../../src/registry/index.js";
import { type GrpcCluster, startGrpcCluster } from "../etcd-api/grpc-cluster.js";

interface NamingEntry {
  readonly Op: number;
  readonly Addr: string;
  readonly Metadata: Record<string, string>;
}

let cluster: GrpcCluster;
let client: ConclaveClient;
let registry: Registry;

beforeAll(async () => {
  cluster = await startGrpcCluster();
  await cluster.leader();
  client = cluster.client();
  registry = new Registry(client);
});
afterAll(async () => {
  await registry[Symbol.asyncDispose]();
  await client.close();
  await cluster.stop();
});

describe("registrations in etcd's naming format, read by etcd's clients", () => {
  it("etcdctl lists the served instances of a service, on their leases", async () => {
    const a = await registry.register({
      service: "orders",
      id: "orders-1",
      address: "10.1.0.1",
      port: 8080,
      metadata: { zone: "a" },
    });
    await registry.register({ service: "orders", id: "orders-2", address: "10.1.0.2", port: 8080 });
    const listed = await cluster.etcdctl(["get", "--prefix", "services/orders/", "-w", "json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const kvs = (
      JSON.parse(listed.stdout) as { kvs: { key: string; value: string; lease?: number }[] }
    ).kvs;
    const entries = kvs.map((kv) => ({
      key: Buffer.from(kv.key, "base64").toString(),
      value: JSON.parse(Buffer.from(kv.value, "base64").toString()) as NamingEntry,
      lease: kv.lease,
    }));
    expect(entries.map((e) => [e.key, e.value])).toEqual([
      ["services/orders/10.1.0.1:8080", { Op: 0, Addr: "10.1.0.1:8080", Metadata: { zone: "a" } }],
      ["services/orders/10.1.0.2:8080", { Op: 0, Addr: "10.1.0.2:8080", Metadata: {} }],
    ]);
    expect(entries[0]?.lease).toBe(a.leaseId);

    // Withdrawn while critical: etcd's clients see only served instances.
    await a.setStatus("critical");
    const after = await cluster.etcdctl(["get", "--prefix", "services/orders/", "--keys-only"]);
    expect(after.stdout.split("\n").filter((l) => l !== "")).toEqual([
      "services/orders/10.1.0.2:8080",
    ]);
  });

  it("an etcd client's list-then-watch follows instances coming and going", async () => {
    const etcd = cluster.etcd3();
    const addrs = new Set<string>();
    const listed = await etcd.getAll().prefix("services/billing/").strings();
    for (const value of Object.values(listed)) addrs.add((JSON.parse(value) as NamingEntry).Addr);
    expect([...addrs]).toEqual([]);
    const watcher = await etcd.watch().prefix("services/billing/").create();
    const changes: string[] = [];
    watcher.on("put", (kv) => {
      const entry = JSON.parse(kv.value.toString()) as NamingEntry;
      addrs.add(entry.Addr);
      changes.push(`+${entry.Addr}`);
    });
    watcher.on("delete", (kv) => {
      const addr = kv.key.toString().slice("services/billing/".length);
      addrs.delete(addr);
      changes.push(`-${addr}`);
    });
    try {
      const one = await registry.register({
        service: "billing",
        id: "b-1",
        address: "10.2.0.1",
        port: 9000,
      });
      const two = await registry.register({
        service: "billing",
        id: "b-2",
        address: "10.2.0.2",
        port: 9000,
      });
      await one.deregister();
      await eventually(() => changes.length === 3, "three changes");
      expect(changes).toEqual(["+10.2.0.1:9000", "+10.2.0.2:9000", "-10.2.0.1:9000"]);
      expect([...addrs]).toEqual(["10.2.0.2:9000"]);
      await two.deregister();
      await eventually(() => addrs.size === 0, "the last instance gone");
    } finally {
      await watcher.cancel();
    }
  });
});

async function eventually(f: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
