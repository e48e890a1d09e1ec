import { describe, expect, it } from "vitest";
import { RaftNode, type RaftNodeObserver } from "../../../src/raft/node/index.js";
import type { StateMachine } from "../../../src/raft/node/ports.js";
import { MemoryStorage } from "../../../src/raft/storage/memory.js";
import { MemoryNetwork } from "../../../src/raft/transport/index.js";

class Counter implements StateMachine<number> {
  n = 0;
  apply(): number {
    return ++this.n;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(String(this.n));
  }
  async restore(data: AsyncIterable<Uint8Array>): Promise<void> {
    let text = "";
    for await (const chunk of data) text += new TextDecoder().decode(chunk);
    this.n = text === "" ? 0 : Number(text);
  }
}

async function waitFor(f: () => boolean, what: string) {
  const deadline = Date.now() + 5000;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function soloNode(observer: RaftNodeObserver, snapshotEveryEntries = 0) {
  return RaftNode.start<number>({
    id: 1,
    storage: new MemoryStorage(),
    transport: new MemoryNetwork().transport(1),
    stateMachine: new Counter(),
    initialCluster: new Map([[1, "127.0.0.1:7001"]]),
    heartbeatMs: 10,
    electionMs: 50,
    snapshotEveryEntries,
    observer,
  });
}

describe("RaftNodeOptions.observer", () => {
  it("reports persists, applies, the leader, proposal outcomes and snapshots", async () => {
    const seen = {
      persistEntries: 0,
      applyEntries: 0,
      leaders: [] as [number, number][],
      proposals: [] as string[],
      snapshots: [] as string[],
    };
    const node = await soloNode(
      {
        onPersist: (ms, entries) => {
          expect(ms).toBeGreaterThanOrEqual(0);
          seen.persistEntries += entries;
        },
        onApply: (ms, entries) => {
          expect(ms).toBeGreaterThanOrEqual(0);
          seen.applyEntries += entries;
        },
        onLeaderChange: (term, leader) => seen.leaders.push([term, leader]),
        onProposal: (outcome) => seen.proposals.push(outcome),
        onSnapshot: (kind) => seen.snapshots.push(kind),
      },
      3,
    );
    try {
      await waitFor(() => node.status().role === "leader", "leadership");
      for (let i = 0; i < 3; i++) await node.propose(new Uint8Array([i]));
      await expect(node.propose(new Uint8Array([9]), { timeoutMs: -1 })).rejects.toThrow();
      await waitFor(() => seen.proposals.length === 4, "four proposal outcomes");
      expect(seen.proposals).toEqual(["committed", "committed", "committed", "failed"]);
      expect(seen.leaders).toEqual([[node.status().term, 1]]);
      expect(seen.persistEntries).toBeGreaterThanOrEqual(3);
      expect(seen.applyEntries).toBeGreaterThanOrEqual(3);
      await waitFor(() => seen.snapshots.length > 0, "a snapshot");
      expect(seen.snapshots[0]).toBe("created");
    } finally {
      await node.stop();
    }
  });

  it("keeps running when an observer throws", async () => {
    const boom = () => {
      throw new Error("observer failure");
    };
    const node = await soloNode({
      onPersist: boom,
      onApply: boom,
      onLeaderChange: boom,
      onProposal: boom,
      onSnapshot: boom,
    });
    try {
      await waitFor(() => node.status().role === "leader", "leadership");
      expect(await node.propose(new Uint8Array([1]))).toBe(1);
      expect(await node.propose(new Uint8Array([2]))).toBe(2);
    } finally {
      await node.stop();
    }
  });
});
