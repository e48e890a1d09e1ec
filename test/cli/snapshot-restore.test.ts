import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { encodeCommand, type KvResult, KvStore } from "../../src/kv/index.js";
import { RaftNode } from "../../src/raft/node/index.js";
import { WalStorage } from "../../src/raft/storage/index.js";
import { MemoryNetwork } from "../../src/raft/transport/index.js";
import { holdDataDirInChild } from "../raft/storage/fixtures/hold-data-dir-process.js";
import { waitFor } from "../server/cluster.js";
import { runCli } from "./run-cli.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const root = mkdtempSync(join(tmpdir(), "conclave-restore-"));
const started: RaftNode<KvResult>[] = [];

afterAll(async () => {
  await Promise.all(started.map((n) => n.stop()));
  rmSync(root, { recursive: true, force: true });
});

/** A store as a server would hold it after 40 log entries: history, a lease, a deleted key. */
async function sourceSnapshot(file: string): Promise<KvStore> {
  const store = new KvStore();
  let index = 30;
  const apply = (c: Parameters<typeof encodeCommand>[0]) => store.apply(++index, c);
  apply({ type: "put", key: enc("cfg/a"), value: enc("1") });
  apply({ type: "put", key: enc("cfg/a"), value: enc("2") });
  apply({ type: "put", key: enc("cfg/bin"), value: new Uint8Array([0, 255]) });
  apply({ type: "leaseGrant", id: 77, ttlMs: 60_000 });
  apply({ type: "put", key: enc("cfg/leased"), value: enc("x"), lease: 77 });
  apply({ type: "put", key: enc("gone"), value: enc("soon") });
  apply({ type: "deleteRange", key: enc("gone") });
  const chunks: Uint8Array[] = [];
  for await (const c of store.snapshot()) chunks.push(c);
  writeFileSync(file, Buffer.concat(chunks));
  return store;
}

const cluster = "n1=1@127.0.0.1:7301,n2=2@127.0.0.1:7302@http://127.0.0.1:7402";

describe("conclave snapshot restore", { timeout: 120_000 }, () => {
  it("builds data dirs from which a new cluster starts with the snapshot's state and takes writes", async () => {
    const file = join(root, "backup.snap");
    const source = await sourceSnapshot(file);
    for (const name of ["n1", "n2"]) {
      const res = await runCli([
        "snapshot",
        "restore",
        file,
        "--data-dir",
        join(root, name),
        "--name",
        name,
        "--initial-cluster",
        cluster,
      ]);
      expect(res.stderr).toBe("");
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(
        new RegExp(
          `^Restored .* as member ${name.slice(1)} \\(raft index 37, revision ${source.revision}, 4 keys\\)\\n$`,
        ),
      );
    }

    const net = new MemoryNetwork();
    const initialCluster = new Map([
      [1, "127.0.0.1:7301"],
      [2, "127.0.0.1:7302"],
    ]);
    const stores = new Map<number, KvStore>();
    for (const id of [1, 2]) {
      const store = new KvStore();
      stores.set(id, store);
      const storage = await WalStorage.open(join(root, `n${id}`), {
        clusterId: "conclave",
        nodeId: id,
      });
      const node = await RaftNode.start<KvResult>({
        id,
        storage,
        transport: net.transport(id),
        stateMachine: store,
        initialCluster,
        heartbeatMs: 25,
        electionMs: 500,
      });
      started.push(node);
    }
    for (const store of stores.values()) {
      expect(store.revision).toBe(source.revision);
      const now = store.range({ key: enc("cfg/"), rangeEnd: enc("cfg0") });
      expect(now.kvs.map((kv) => [dec(kv.key), [...kv.value]])).toEqual([
        ["cfg/a", [...enc("2")]],
        ["cfg/bin", [0, 255]],
        ["cfg/leased", [...enc("x")]],
      ]);
      expect(now.kvs[2]?.lease).toBe(77);
      // History survives: the first value is still readable at its revision.
      const old = store.range({ key: enc("cfg/a"), revision: now.kvs[0]!.createRevision });
      expect(dec(old.kvs[0]!.value)).toBe("1");
      expect(store.range({ key: enc("gone") }).count).toBe(0);
    }

    const leader = await waitFor(
      () => started.find((n) => n.status().role === "leader"),
      "a leader",
    );
    expect(leader.status().confState.voters).toEqual([1, 2]);
    await leader.propose(encodeCommand({ type: "put", key: enc("after"), value: enc("restore") }));
    await waitFor(
      () => [...stores.values()].every((s) => s.range({ key: enc("after") }).count === 1),
      "the write on both members",
    );
    expect(stores.get(1)?.revision).toBe(source.revision + 1);
  });

  it("refuses a data dir that is not empty, and a corrupt snapshot, leaving nothing behind", async () => {
    const file = join(root, "second.snap");
    await sourceSnapshot(file);
    const busy = join(root, "busy");
    mkdirSync(busy);
    writeFileSync(join(busy, "keep"), "x");
    const args = (dir: string, snap = file) => [
      "snapshot",
      "restore",
      snap,
      "--data-dir",
      dir,
      "--name",
      "n1",
      "--initial-cluster",
      cluster,
    ];
    const refused = await runCli(args(busy));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^conclave snapshot restore: --data-dir .*busy is not empty\n/);
    expect(readFileSync(join(busy, "keep"), "utf8")).toBe("x");

    const bytes = readFileSync(file);
    const truncated = join(root, "truncated.snap");
    writeFileSync(truncated, bytes.subarray(0, bytes.byteLength - 3));
    const corrupt = await runCli(args(join(root, "fresh"), truncated));
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/^conclave: \w+: .*snapshot/);
    expect(() => readFileSync(join(root, "fresh"))).toThrow(/ENOENT/);

    const stranger = await runCli([
      ...args(join(root, "x")).slice(0, 6),
      "n9",
      "--initial-cluster",
      cluster,
    ]);
    expect(stranger.code).toBe(2);
    expect(stranger.stderr).toContain("--name n9 is not a member of --initial-cluster");
  });

  it("refuses a data dir another process holds, naming it, and writes nothing there", async () => {
    const file = join(root, "third.snap");
    await sourceSnapshot(file);
    const held = join(root, "held");
    mkdirSync(held);
    const holder = await holdDataDirInChild(held);
    try {
      const refused = await runCli([
        "snapshot",
        "restore",
        file,
        "--data-dir",
        held,
        "--name",
        "n1",
        "--initial-cluster",
        cluster,
      ]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(
        `data directory ${held} is in use by another process (PID ${holder.pid})`,
      );
      expect(readdirSync(held)).toEqual(["LOCK"]);
    } finally {
      await holder.kill();
    }
  });
});
