import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait-for.js";
import { type GrpcCluster, parseExact, runEtcdctl, startGrpcCluster } from "./grpc-cluster.js";

/** The real etcd 3.4 every shape is compared with (read-only commands only). */
const ETCD = ["127.0.0.1:2379"];

/** The shape of a JSON value: objects by their sorted keys, arrays by their first element. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, shape((value as Record<string, unknown>)[k])]),
    );
  }
  // Ids print as numbers or, past 2^53, as the text parseExact made of them.
  return typeof value === "string" && /^\d+$/.test(value) ? "number" : typeof value;
}

const hex = (id: number) => id.toString(16);

describe("etcdctl endpoint and alarm commands against Conclave's Maintenance service", () => {
  let cluster: GrpcCluster;

  beforeAll(async () => {
    cluster = await startGrpcCluster();
    await cluster.leader();
    // An empty in-memory store has size 0, which etcdctl's JSON leaves out as etcd's never is.
    await writeAndSettle("status/", 1);
  });
  afterAll(async () => {
    await cluster.stop();
  });

  /** Writes through etcdctl, then waits until every member applied them. */
  async function writeAndSettle(prefix: string, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      expect((await cluster.etcdctl(["put", `${prefix}${i}`, `v${i}`])).stdout).toBe("OK\n");
    }
    const leader = await cluster.leader();
    await waitFor(
      () => cluster.members.every((m) => m.store.revision === leader.store.revision),
      "every member applied the writes",
    );
  }

  it("endpoint status: one line per member, etcd's columns, exactly one leader", async () => {
    const leader = await cluster.leader();
    const res = await cluster.etcdctl(["endpoint", "status"]);
    expect(res.code).toBe(0);
    const lines = res.stdout.split("\n").filter((l) => l !== "");
    expect(lines).toHaveLength(3);
    cluster.members.forEach((m, i) => {
      const line = lines[i]!;
      expect(line).toMatch(
        /^127\.0\.0\.1:\d+, [0-9a-f]+, 3\.5\.0, \d+(\.\d+)? [kMG]?B, (true|false), false, \d+, \d+, \d+, $/,
      );
      expect(line.startsWith(`${cluster.grpcAddresses[i]}, ${hex(m.id)}, `)).toBe(true);
      expect(line.split(", ")[4]).toBe(String(m.id === leader.id));
    });
    // etcd prints the same columns.
    const etcd = await runEtcdctl(ETCD, ["endpoint", "status"]);
    expect(etcd.stdout.split(", ")).toHaveLength(lines[0]!.split(", ").length);
  });

  it("endpoint status -w table and -w json have etcd's shape", async () => {
    const table = await cluster.etcdctl(["endpoint", "status", "-w", "table"]);
    const etcdTable = await runEtcdctl(ETCD, ["endpoint", "status", "-w", "table"]);
    const headerRow = (t: string) => t.split("\n")[1]!.replace(/\s+/g, " ");
    expect(headerRow(table.stdout)).toBe(headerRow(etcdTable.stdout));
    expect(table.stdout.trimEnd().split("\n")).toHaveLength(3 + 3 + 1);

    const leader = await cluster.leader();
    const json = parseExact<unknown>(
      (await cluster.etcdctl(["endpoint", "status", "-w", "json"])).stdout,
    );
    const etcdJson = parseExact<unknown>(
      (await runEtcdctl(ETCD, ["endpoint", "status", "-w", "json"])).stdout,
    );
    expect(shape(json)).toEqual(shape(etcdJson));
    const statuses = json as { Endpoint: string; Status: Record<string, unknown> }[];
    expect(statuses.map((s) => s.Endpoint)).toEqual(cluster.grpcAddresses);
    for (const [i, s] of statuses.entries()) {
      const header = s.Status["header"] as Record<string, unknown>;
      expect(header["member_id"]).toBe(cluster.members[i]!.id);
      expect(s.Status["leader"]).toBe(leader.id);
      expect(s.Status["version"]).toBe("3.5.0");
      expect(s.Status["dbSize"]).toBeGreaterThan(0);
      expect(s.Status["raftTerm"]).toBe(leader.node.status().term);
    }
  });

  it("endpoint health: a linearizable get of every member, in etcd's words", async () => {
    const res = await cluster.etcdctl(["endpoint", "health"]);
    expect(res.code).toBe(0);
    const lines = res.stderr.trimEnd().split("\n").sort();
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).toMatch(
        /^127\.0\.0\.1:\d+ is healthy: successfully committed proposal: took = [\d.]+[µm]?s$/,
      );
    }
    const json = parseExact<unknown>(
      (await cluster.etcdctl(["endpoint", "health", "-w", "json"])).stdout,
    );
    const etcdJson = parseExact<unknown>(
      (await runEtcdctl(ETCD, ["endpoint", "health", "-w", "json"])).stdout,
    );
    expect(shape(json)).toEqual(shape(etcdJson));
    const health = json as { endpoint: string; health: boolean }[];
    expect(health.map((h) => h.endpoint).sort()).toEqual([...cluster.grpcAddresses].sort());
    expect(health.every((h) => h.health)).toBe(true);
  });

  it("endpoint hashkv: the same hash on every member after writes, and after compaction", async () => {
    await writeAndSettle("hashkv/", 20);
    const json = parseExact<unknown>(
      (await cluster.etcdctl(["endpoint", "hashkv", "-w", "json"])).stdout,
    );
    const hashes = (json as { HashKV: { hash: number } }[]).map((h) => h.HashKV.hash);
    expect(new Set(hashes).size).toBe(1);

    const simple = await cluster.etcdctl(["endpoint", "hashkv"]);
    expect(simple.stdout).toBe(cluster.grpcAddresses.map((a) => `${a}, ${hashes[0]}\n`).join(""));

    // A past revision hashes as it was; a compacted one is refused as etcd refuses it.
    const revision = (await cluster.leader()).store.revision;
    await writeAndSettle("hashkv/more/", 3);
    const past = await cluster.etcdctl(["endpoint", "hashkv", `--rev=${revision}`]);
    expect(past.stdout.split("\n")[0]).toBe(`${cluster.grpcAddresses[0]}, ${hashes[0]}`);
    expect((await cluster.etcdctl(["compaction", String(revision - 5)])).code).toBe(0);
    const leader = await cluster.leader();
    await waitFor(
      () => cluster.members.every((m) => m.store.compactRevision === revision - 5),
      "every member compacted",
    );
    const after = parseExact<unknown>(
      (await cluster.etcdctl(["endpoint", "hashkv", "-w", "json"])).stdout,
    );
    // Compared once compacted: etcdctl leaves out a compact_revision of 0, which
    // the etcd compared with has unless something compacted it.
    const etcdJson = parseExact<unknown>(
      (await runEtcdctl(ETCD, ["endpoint", "hashkv", "-w", "json"])).stdout,
    ) as { HashKV: Record<string, unknown> }[];
    etcdJson[0]!.HashKV["compact_revision"] ??= 1;
    expect(shape(after)).toEqual(shape(etcdJson));
    const compacted = after as { HashKV: { hash: number; compact_revision: number } }[];
    expect(new Set(compacted.map((h) => h.HashKV.hash)).size).toBe(1);
    expect(compacted.every((h) => h.HashKV.compact_revision === revision - 5)).toBe(true);
    const refused = await cluster.etcdctl(["endpoint", "hashkv", `--rev=${revision - 6}`], {
      endpoints: [cluster.grpcAddressOf(leader.id)],
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("etcdserver: mvcc: required revision has been compacted");
  });

  // etcdctl 3.4's endpoint health does not look at alarms (3.5's does); status lists them.
  it("alarm list and alarm disarm; a raised alarm shows in endpoint status", async () => {
    expect(await cluster.etcdctl(["alarm", "list"])).toMatchObject({ code: 0, stdout: "" });
    expect((await runEtcdctl(ETCD, ["alarm", "list"])).stdout).toBe("");

    const leader = await cluster.leader();
    const raised = await leader.app.inject({
      method: "POST",
      url: "/v3/maintenance/alarm",
      payload: { action: "ACTIVATE", memberID: String(leader.id), alarm: "NOSPACE" },
    });
    expect(raised.statusCode).toBe(200);
    await waitFor(
      () => cluster.members.every((m) => m.store.alarms.list().length === 1),
      "every member applied the alarm",
    );
    // etcdctl prints the message's text form, trailing space included.
    const line = `memberID:${leader.id} alarm:NOSPACE \n`;
    expect((await cluster.etcdctl(["alarm", "list"])).stdout).toBe(line);

    const status = await cluster.etcdctl(["endpoint", "status"], {
      endpoints: [cluster.grpcAddressOf(leader.id)],
    });
    expect(status.stdout).toMatch(new RegExp(`, memberID:${leader.id} alarm:NOSPACE $`, "m"));
    expect((await cluster.etcdctl(["alarm", "disarm"])).stdout).toBe(line);
    expect((await cluster.etcdctl(["alarm", "list"])).stdout).toBe("");
    expect((await cluster.etcdctl(["put", "alarm/after", "ok"])).stdout).toBe("OK\n");
  });

  it("defrag answers success on every member", async () => {
    const res = await cluster.etcdctl(["defrag"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(
      cluster.grpcAddresses.map((a) => `Finished defragmenting etcd member[${a}]\n`).join(""),
    );
  });
});
