import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { LmdbBackend } from "../../src/kv/backend/lmdb.js";
import {
  encodeCommand,
  type KvCommand,
  KvReplica,
  type KvResult,
  KvStore,
  utf8,
} from "../../src/kv/index.js";
import { RaftNode } from "../../src/raft/node/node.js";
import { MemoryStorage } from "../../src/raft/storage/memory.js";
import { MemoryNetwork } from "../../src/raft/transport/index.js";
import { waitFor } from "../support/wait-for.js";
import { text } from "./ops.js";

const started: RaftNode<KvResult>[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()));
});

const address = (id: number) => `127.0.0.1:${7100 + id}`;

async function startNode(id: number, net: MemoryNetwork, store: KvStore, join = false) {
  const node = await RaftNode.start<KvResult>({
    id,
    storage: new MemoryStorage(),
    transport: net.transport(id),
    stateMachine: store,
    initialCluster: new Map((join ? [1, 2, 3, 4] : [1, 2, 3]).map((i) => [i, address(i)])),
    join,
    heartbeatMs: 10,
    electionMs: 100,
    snapshotEveryEntries: 15,
  });
  started.push(node);
  return node;
}

function dump(store: KvStore): string[] {
  return store
    .range({ key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) })
    .kvs.map((kv) => `${text(kv.key)}=${text(kv.value)}@${kv.modRevision}/${kv.lease}`);
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A store in memory, or on LMDB in a fresh directory (its snapshots then copy nothing). */
function newStore(backend: "memory" | "lmdb"): KvStore {
  if (backend === "memory") return new KvStore();
  const dir = mkdtempSync(join(tmpdir(), "conclave-kv-node-"));
  dirs.push(dir);
  return new KvStore({ backend: new LmdbBackend(dir) });
}

describe.each(["memory", "lmdb"] as const)("KvStore under RaftNode (%s backend)", (backend) => {
  it("replicates commands, returns typed results, and catches a new member up by snapshot while writes go on", async () => {
    const net = new MemoryNetwork();
    const stores = [newStore(backend), newStore(backend), newStore(backend)];
    const nodes = await Promise.all(stores.map((s, i) => startNode(i + 1, net, s)));
    const leader = await waitFor(
      () => nodes.find((n) => n.status().role === "leader"),
      "leader",
      10_000,
    );
    const propose = (cmd: KvCommand) => leader.propose(encodeCommand(cmd));

    const grant = await propose({ type: "leaseGrant", ttlMs: 3000 });
    expect(grant).toMatchObject({ type: "leaseGrant", id: 1 });
    for (let i = 0; i < 30; i++) {
      await propose({ type: "put", key: utf8(`k${i % 7}`), value: utf8(`v${i}`), lease: i % 2 });
    }
    const bad = await propose({ type: "put", key: utf8("x"), value: utf8(""), lease: 42 });
    expect(bad).toMatchObject({ type: "error", error: { code: "KV_LEASE_NOT_FOUND" } });
    await propose({ type: "compact", revision: 20 });
    await waitFor(() => leader.status().snapshotIndex > 20, "leader snapshot", 10_000);

    const joiner = newStore(backend);
    const n4 = await startNode(4, net, joiner, true);
    await leader.addLearner(4, address(4));
    // Writes go on while the learner is sent its snapshot and catches up.
    for (let i = 0; i < 40; i++) {
      await propose({ type: "put", key: utf8(`late${i % 5}`), value: utf8(`w${i}`) });
    }
    const leaderStore = stores[nodes.indexOf(leader)]!;
    await waitFor(() => joiner.revision === leaderStore.revision, "learner catches up", 10_000);
    expect(n4.status().snapshotsInstalled).toBeGreaterThan(0);
    for (const s of [...stores, joiner]) {
      await waitFor(() => s.revision === leaderStore.revision, "replica catches up", 10_000);
      expect(dump(s)).toEqual(dump(leaderStore));
      expect(s.compactRevision).toBe(20);
      expect(s.leases().map((l) => l.keys.map(text))).toEqual(
        leaderStore.leases().map((l) => l.keys.map(text)),
      );
    }
  });
});

describe("lease keep-alives through KvReplica", () => {
  it("renew on the leader without a log entry, and a deposed leader that has not noticed refuses", async () => {
    const net = new MemoryNetwork();
    const stores = [new KvStore(), new KvStore(), new KvStore()];
    const nodes = await Promise.all(stores.map((s, i) => startNode(i + 1, net, s)));
    const replicas = nodes.map((n, i) => new KvReplica(n, stores[i]!, 300));
    const loops = replicas.map((r) => r.leaseExpiry({}));
    const leaderOf = () => replicas.find((r) => r.node.status().role === "leader");
    const first = await waitFor(leaderOf, "leader", 10_000);
    const { id } = await first.write({ type: "leaseGrant", ttlMs: 60_000 });
    const before = first.node.status();
    for (let i = 0; i < 3; i++) {
      expect(await first.keepAlive(id)).toMatchObject({
        type: "leaseKeepAlive",
        id,
        ttlMs: 60_000,
      });
    }
    const after = first.node.status();
    expect([after.lastIndex, after.commitIndex]).toEqual([before.lastIndex, before.commitIndex]);

    // Cut off, it still believes it leads until its check-quorum notices;
    // its ReadIndex cannot be confirmed, so it must not renew.
    net.isolate(first.node.id);
    const refused = await first.keepAlive(id).then(
      () => "renewed",
      (e: Error) => e.name,
    );
    expect(refused).not.toBe("renewed");
    const second = await waitFor(
      () => replicas.find((r) => r !== first && r.node.status().role === "leader"),
      "a new leader",
      10_000,
    );
    expect(await second.keepAlive(id)).toMatchObject({ id, ttlMs: 60_000 });
    for (const loop of loops) loop.stop();
  });
});
