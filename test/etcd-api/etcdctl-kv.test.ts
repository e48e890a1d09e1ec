import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GrpcCluster, parseExact, startGrpcCluster } from "./grpc-cluster.js";

describe("etcdctl KV commands against Conclave's gRPC API", () => {
  let cluster: GrpcCluster;

  beforeAll(async () => {
    cluster = await startGrpcCluster();
    await cluster.leader();
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it("puts and gets, with prefix, limit, revision and keys-only", async () => {
    const leader = await cluster.leader();
    const at = [cluster.grpcAddressOf(leader.id)];
    expect((await cluster.etcdctl(["put", "kv/a", "1"], { endpoints: at })).stdout).toBe("OK\n");
    await cluster.etcdctl(["put", "kv/b", "2"], { endpoints: at });
    await cluster.etcdctl(["put", "kv/a", "3"], { endpoints: at });
    expect((await cluster.etcdctl(["get", "kv/a"])).stdout).toBe("kv/a\n3\n");
    expect((await cluster.etcdctl(["get", "kv/", "--prefix"])).stdout).toBe("kv/a\n3\nkv/b\n2\n");
    expect((await cluster.etcdctl(["get", "kv/", "--prefix", "--limit=1"])).stdout).toBe(
      "kv/a\n3\n",
    );
    expect((await cluster.etcdctl(["get", "kv/", "--prefix", "--keys-only"])).stdout).toBe(
      "kv/a\n\nkv/b\n\n",
    );
    const json = parseExact((await cluster.etcdctl(["get", "kv/a", "-w", "json"])).stdout);
    const header = json["header"] as Record<string, unknown>;
    expect(header["member_id"]).toBeGreaterThan(0);
    expect(header["raft_term"]).toBeGreaterThan(0);
    expect(typeof header["cluster_id"]).toBe("string");
    const kvs = json["kvs"] as Record<string, number>[];
    expect(kvs[0]!["version"]).toBe(2);
    const firstRevision = kvs[0]!["create_revision"]!;
    expect((await cluster.etcdctl(["get", "kv/a", `--rev=${firstRevision}`])).stdout).toBe(
      "kv/a\n1\n",
    );
  });

  it("runs an interactive txn and deletes", async () => {
    await cluster.etcdctl(["put", "txn/k", "old"]);
    const txn = await cluster.etcdctl(["txn"], {
      input: 'value("txn/k") = "old"\n\nput txn/k new\n\nput txn/k failed\n\n',
    });
    expect(txn.stdout).toBe("SUCCESS\n\nOK\n");
    expect((await cluster.etcdctl(["get", "txn/k", "--print-value-only"])).stdout).toBe("new\n");
    expect((await cluster.etcdctl(["del", "txn/k"])).stdout).toBe("1\n");
    expect((await cluster.etcdctl(["get", "txn/k"])).stdout).toBe("");
  });

  it("compacts, then answers an old revision with etcd's error", async () => {
    await cluster.etcdctl(["put", "compact/k", "v1"]);
    const json = parseExact(
      (await cluster.etcdctl(["put", "compact/k", "v2", "-w", "json"])).stdout,
    );
    const revision = Number((json["header"] as Record<string, unknown>)["revision"]);
    expect((await cluster.etcdctl(["compaction", String(revision)])).stdout).toBe(
      `compacted revision ${revision}\n`,
    );
    const old = await cluster.etcdctl(["get", "compact/k", `--rev=${revision - 1}`]);
    expect(old.code).not.toBe(0);
    expect(old.stderr).toContain("etcdserver: mvcc: required revision has been compacted");
  });
});
