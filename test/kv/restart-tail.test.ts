import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LmdbBackend } from "../../src/kv/backend/lmdb.js";
import { encodeCommand, type KvResult, KvStore, utf8 } from "../../src/kv/index.js";
import { NodeFailedError } from "../../src/raft/node/errors.js";
import { RaftNode } from "../../src/raft/node/node.js";
import { decodeNodeSnapshot } from "../../src/raft/node/snapshot-codec.js";
import { MemoryStorage } from "../../src/raft/storage/memory.js";
import { MemoryNetwork } from "../../src/raft/transport/index.js";
import { waitFor } from "../support/wait-for.js";
import { text } from "./ops.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Counts what the node asks of the store: restores and applied entries. */
function counting(store: KvStore) {
  const seen = { restores: 0, applied: [] as number[] };
  const sm = Object.create(store) as KvStore;
  sm.restore = (data) => {
    seen.restores++;
    return store.restore(data);
  };
  sm.apply = ((entry: { index: number; term: number; data: Uint8Array }) => {
    seen.applied.push(entry.index);
    return store.apply(entry);
  }) as KvStore["apply"];
  return { sm, seen };
}

async function start(storage: MemoryStorage, stateMachine: KvStore) {
  const node = await RaftNode.start<KvResult>({
    id: 1,
    storage,
    transport: new MemoryNetwork().transport(1),
    stateMachine,
    initialCluster: new Map([[1, "127.0.0.1:7301"]]),
    heartbeatMs: 10,
    electionMs: 50,
    snapshotEveryEntries: 10,
  });
  await waitFor(() => node.status().role === "leader", "leader", 10_000);
  return node;
}

describe("a key space on disk after a restart", () => {
  it("skips the snapshot it already holds and applies only the log after its applied index", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-restart-"));
    dirs.push(dir);
    const storage = new MemoryStorage();
    let backend = new LmdbBackend(dir);
    let node = await start(storage, new KvStore({ backend }));
    for (let i = 0; i < 25; i++) {
      await node.propose(encodeCommand({ type: "put", key: utf8(`k${i}`), value: utf8(`v${i}`) }));
    }
    // The snapshot is taken once the backend flushed; it copies nothing.
    await waitFor(() => node.status().snapshotIndex > 0, "snapshot", 10_000);
    const stored = await storage.openSnapshot();
    const decoded = await decodeNodeSnapshot(stored.chunks());
    expect(decoded.inBackend).toBe(true);
    for await (const chunk of decoded.app) expect(chunk.byteLength).toBe(0);
    await stored.close();
    const before = node.status();
    await node.stop();
    await backend.close();

    backend = new LmdbBackend(dir);
    const store = new KvStore({ backend });
    expect(store.appliedIndex).toBe(before.appliedIndex);
    const { sm, seen } = counting(store);
    node = await start(storage, sm);
    await node.propose(encodeCommand({ type: "put", key: utf8("after"), value: utf8("x") }));
    expect(seen.restores).toBe(0);
    // Only entries past what the backend held reach the store: the new term's
    // empty entry is not applied as a command, the put after it is.
    expect(seen.applied.every((i) => i > before.appliedIndex)).toBe(true);
    expect(seen.applied).toHaveLength(1);
    const got = store.range({ key: utf8("k"), rangeEnd: utf8("l") });
    expect(got.kvs.map((kv) => text(kv.value))).toHaveLength(25);
    expect(text(store.range({ key: utf8("after") }).kvs[0]!.value)).toBe("x");
    await node.stop();
    await backend.close();
  });

  it("refuses to start when the snapshot left the state in a backend that is gone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-restart-"));
    dirs.push(dir);
    const storage = new MemoryStorage();
    const backend = new LmdbBackend(dir);
    const node = await start(storage, new KvStore({ backend }));
    for (let i = 0; i < 15; i++) {
      await node.propose(encodeCommand({ type: "put", key: utf8(`k${i}`), value: utf8("v") }));
    }
    await waitFor(() => node.status().snapshotIndex > 0, "snapshot", 10_000);
    await node.stop();
    await backend.close();
    // The log was compacted behind a snapshot holding no copy; an empty
    // backend beside it must not be started as if it were the state.
    const emptyDir = mkdtempSync(join(tmpdir(), "conclave-restart-"));
    dirs.push(emptyDir);
    const empty = new LmdbBackend(emptyDir);
    await expect(start(storage, new KvStore({ backend: empty }))).rejects.toThrow(
      /lost its backend/,
    );
    await empty.close();
  });

  it("refuses to start when the store holds entries the log does not", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-restart-"));
    dirs.push(dir);
    const backend = new LmdbBackend(dir);
    const node = await start(new MemoryStorage(), new KvStore({ backend }));
    for (let i = 0; i < 5; i++) {
      await node.propose(encodeCommand({ type: "put", key: utf8(`k${i}`), value: utf8("v") }));
    }
    await node.stop();
    await backend.flushed();
    // A fresh log beside a used key space: two histories in one data dir.
    await expect(start(new MemoryStorage(), new KvStore({ backend }))).rejects.toBeInstanceOf(
      NodeFailedError,
    );
    await backend.close();
  });
});
