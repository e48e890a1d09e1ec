import { afterEach, describe, expect, it } from "vitest";
import { bootstrapLog } from "../../../src/raft/core/bootstrap.js";
import { RaftNode } from "../../../src/raft/node/node.js";
import type { NodeStorage } from "../../../src/raft/node/ports.js";
import { MemoryStorage } from "../../../src/raft/storage/memory.js";
import { WalStorage } from "../../../src/raft/storage/wal-storage.js";
import { MemoryNetwork } from "../../../src/raft/transport/index.js";
import { SimFs } from "../storage/sim-fs.js";

const IDS = [1, 2, 3];
const CLUSTER = new Map(IDS.map((id) => [id, `127.0.0.1:${7100 + id}`]));
const started: RaftNode<string>[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()));
});

/** The first founding entries written, the hard state not: a crash during the first start. */
async function cutShortBootstrap(storage: NodeStorage): Promise<void> {
  const { entries } = bootstrapLog(IDS);
  await storage.save({ entries: entries.slice(0, 1) });
  expect(storage.lastIndex()).toBe(1);
  expect(storage.initialState().hardState.term).toBe(0);
}

async function startAll(
  storages: Map<number, NodeStorage>,
): Promise<Map<number, RaftNode<string>>> {
  const net = new MemoryNetwork();
  const nodes = new Map<number, RaftNode<string>>();
  for (const id of IDS) {
    const node = await RaftNode.start<string>({
      id,
      storage: storages.get(id)!,
      transport: net.transport(id),
      stateMachine: {
        apply: (e) => new TextDecoder().decode(e.data),
        snapshot: () => new Uint8Array(0),
        restore: () => {},
      },
      initialCluster: CLUSTER,
      heartbeatMs: 10,
      electionMs: 100,
    });
    nodes.set(id, node);
    started.push(node);
  }
  return nodes;
}

async function leaderOf(nodes: Map<number, RaftNode<string>>): Promise<RaftNode<string>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const leader = [...nodes.values()].find((n) => n.status().role === "leader");
    if (leader !== undefined) return leader;
    if (Date.now() > deadline) throw new Error("no leader elected");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("a founding member whose first start was cut short", () => {
  it("bootstraps again from memory storage, and the cluster elects and commits", async () => {
    const storages = new Map<number, NodeStorage>(IDS.map((id) => [id, new MemoryStorage()]));
    for (const id of IDS) await cutShortBootstrap(storages.get(id)!);
    const nodes = await startAll(storages);
    const leader = await leaderOf(nodes);
    await expect(leader.propose(new TextEncoder().encode("after"))).resolves.toBe("after");
    for (const id of IDS) expect(nodes.get(id)!.status().confState.voters).toEqual(IDS);
  });

  it("bootstraps again over a WAL holding a partial founding log", async () => {
    const storages = new Map<number, NodeStorage>();
    for (const id of IDS) {
      const storage = await WalStorage.open(`/data/${id}`, {
        clusterId: "partial",
        nodeId: id,
        fs: new SimFs(),
      });
      await cutShortBootstrap(storage);
      storages.set(id, storage);
    }
    const nodes = await startAll(storages);
    const leader = await leaderOf(nodes);
    await expect(leader.propose(new TextEncoder().encode("after"))).resolves.toBe("after");
    expect(storages.get(1)!.initialState().hardState.term).toBeGreaterThan(0);
  });
});
