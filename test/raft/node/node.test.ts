import { afterEach, describe, expect, it } from "vitest";
import { MessageType, NotLeaderError } from "../../../src/raft/core/index.js";
import { NodeStoppedError } from "../../../src/raft/node/errors.js";
import { RaftNode } from "../../../src/raft/node/node.js";
import type { StateMachine } from "../../../src/raft/node/ports.js";
import { MemoryStorage } from "../../../src/raft/storage/memory.js";
import { MemoryNetwork } from "../../../src/raft/transport/index.js";
import { waitFor } from "../../support/wait-for.js";

/** A counter-plus-log state machine: every entry appends its text and returns the new length. */
class ListMachine implements StateMachine<number> {
  items: string[] = [];
  apply(e: { data: Uint8Array }): number {
    this.items.push(new TextDecoder().decode(e.data));
    return this.items.length;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.items));
  }
  async restore(data: AsyncIterable<Uint8Array>): Promise<void> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of data) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    this.items = bytes.byteLength === 0 ? [] : JSON.parse(bytes.toString("utf8"));
  }
}

const enc = (s: string) => new TextEncoder().encode(s);
const started: RaftNode<number>[] = [];

async function cluster(
  n: number,
  net = new MemoryNetwork(),
  extra: { snapshotEveryEntries?: number; snapshotEveryBytes?: number } = {},
) {
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const initialCluster = new Map(ids.map((id) => [id, `127.0.0.1:${7000 + id}`]));
  const machines = new Map<number, ListMachine>();
  const storages = new Map<number, MemoryStorage>();
  const nodes = new Map<number, RaftNode<number>>();
  for (const id of ids) {
    const sm = new ListMachine();
    const storage = new MemoryStorage();
    machines.set(id, sm);
    storages.set(id, storage);
    const node = await RaftNode.start({
      id,
      storage,
      transport: net.transport(id),
      stateMachine: sm,
      initialCluster,
      heartbeatMs: 25,
      electionMs: 500,
      ...extra,
    });
    nodes.set(id, node);
    started.push(node);
  }
  return { net, nodes, machines, storages };
}

const leaderOf = (nodes: Map<number, RaftNode<number>>) =>
  [...nodes.values()].find((n) => n.status().role === "leader");

afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()));
});

describe("RaftNode", () => {
  it("elects a leader, replicates proposals and resolves them with the apply result", async () => {
    const { nodes, machines } = await cluster(3);
    const leader = await waitFor(() => leaderOf(nodes), "a leader");
    expect(await leader.propose(enc("a"))).toBe(1);
    expect(await leader.propose(enc("b"))).toBe(2);
    await waitFor(() => [...machines.values()].every((m) => m.items.length === 2), "replication");
    for (const m of machines.values()) expect(m.items).toEqual(["a", "b"]);
  });

  it("rejects a proposal at a follower with NotLeaderError naming the leader", async () => {
    const { nodes } = await cluster(3);
    const leader = await waitFor(() => leaderOf(nodes), "a leader");
    await waitFor(
      () => [...nodes.values()].every((n) => n.status().leader === leader.id),
      "all know the leader",
    );
    const follower = [...nodes.values()].find((n) => n !== leader)!;
    await expect(follower.propose(enc("x"))).rejects.toBeInstanceOf(NotLeaderError);
    try {
      await follower.propose(enc("x"));
    } catch (err) {
      expect((err as NotLeaderError).leaderHint).toBe(leader.id);
    }
  });

  it("serves linearizable reads on the leader and on followers", async () => {
    const { nodes, machines } = await cluster(3);
    const leader = await waitFor(() => leaderOf(nodes), "a leader");
    await leader.propose(enc("w1"));
    await waitFor(
      () => [...nodes.values()].every((n) => n.status().leader === leader.id),
      "all know the leader",
    );
    for (const [id, node] of nodes) {
      await node.linearizableRead();
      expect(machines.get(id)!.items).toContain("w1");
    }
  });

  it("serves reads that arrive together with one ReadIndex round", async () => {
    const net = new MemoryNetwork();
    const { nodes, machines } = await cluster(3, net);
    const leader = await waitFor(() => leaderOf(nodes), "a leader");
    await leader.propose(enc("w1"));
    const follower = [...nodes.values()].find((n) => n !== leader)!;
    await waitFor(() => follower.status().leader === leader.id, "the follower knows the leader");
    const contexts = new Set<string>();
    net.setFilter((m) => {
      if (m.type === MessageType.Heartbeat && m.context !== "") contexts.add(m.context);
      return true;
    });
    for (const node of [leader, follower]) {
      contexts.clear();
      await Promise.all(Array.from({ length: 50 }, () => node.linearizableRead()));
      expect(machines.get(node.id)!.items).toContain("w1");
      // Fifty reads, one read context confirmed by the leader's heartbeats.
      expect([...contexts], `reads on node ${node.id}`).toHaveLength(1);
    }
    net.setFilter(undefined);
  });

  it("adds a learner that catches up by snapshot, promotes it, and removes a member", async () => {
    const net = new MemoryNetwork();
    const { nodes, machines } = await cluster(3, net, {
      snapshotEveryEntries: 20,
    });
    const leader = await waitFor(() => leaderOf(nodes), "a leader");
    for (let i = 0; i < 60; i++) await leader.propose(enc(`e${i}`));
    const sm4 = new ListMachine();
    const n4 = await RaftNode.start({
      id: 4,
      storage: new MemoryStorage(),
      transport: net.transport(4),
      stateMachine: sm4,
      initialCluster: new Map([1, 2, 3, 4].map((id) => [id, `127.0.0.1:${7000 + id}`])),
      join: true,
      heartbeatMs: 25,
      electionMs: 500,
    });
    started.push(n4);
    await leader.addLearner(4, "127.0.0.1:7004");
    await waitFor(() => sm4.items.length === 60, "learner caught up");
    expect(n4.status().snapshotsInstalled).toBeGreaterThan(0); // it was caught up by snapshot
    const cs = await leader.addVoter(4, "127.0.0.1:7004");
    expect(cs.voters).toEqual([1, 2, 3, 4]);
    const victim = [1, 2, 3].find((id) => id !== leader.id)!;
    const after = await leader.removeMember(victim);
    expect(after.voters).not.toContain(victim);
    expect(await leader.propose(enc("after"))).toBe(61);
    await waitFor(() => sm4.items.length === 61, "new voter applies");
    expect(machines.get(leader.id)!.items.at(-1)).toBe("after");
  });

  it("a leader that steps down fails its unconfirmed reads with NotLeaderError, not a timeout", async () => {
    const { nodes, net } = await cluster(3);
    const leader = await waitFor(() => leaderOf(nodes), "a leader");
    await leader.propose(enc("w"));
    net.isolate(leader.id);
    const read = leader.linearizableRead({ timeoutMs: 60_000 });
    // CheckQuorum deposes the cut-off leader within two election timeouts.
    await expect(read).rejects.toBeInstanceOf(NotLeaderError);
  });

  it("transfers leadership on request, and times out with a typed error when it cannot", async () => {
    const { nodes, net } = await cluster(3);
    const leader = await waitFor(() => leaderOf(nodes), "a leader");
    const target = [...nodes.values()].find((n) => n !== leader)!;
    await leader.transferLeadership(target.id);
    await waitFor(() => target.status().role === "leader" || undefined, "the target to lead");
    const other = [...nodes.values()].find((n) => n !== target && n !== leader)!;
    net.isolate(other.id);
    await expect(target.transferLeadership(other.id, { timeoutMs: 300 })).rejects.toMatchObject({
      code: "TIMEOUT",
    });
  });

  it("snapshots by applied bytes as well as by entry count", async () => {
    const { nodes, storages } = await cluster(1, new MemoryNetwork(), {
      snapshotEveryEntries: 0,
      snapshotEveryBytes: 1000,
    });
    const node = nodes.get(1)!;
    await waitFor(() => node.status().role === "leader" || undefined, "single-node leader");
    for (let i = 0; i < 3; i++) await node.propose(new Uint8Array(300));
    expect(node.status().snapshotIndex).toBe(0);
    await node.propose(new Uint8Array(300));
    const applied = node.status().appliedIndex;
    await waitFor(
      () => node.status().snapshotIndex === applied || undefined,
      "a snapshot at 1200 bytes",
    );
    expect(storages.get(1)!.snapshot().metadata.index).toBe(applied);
  });

  it("stops cleanly: pending requests fail with NodeStoppedError, later calls too", async () => {
    const { nodes, net } = await cluster(3);
    const leader = await waitFor(() => leaderOf(nodes), "a leader");
    net.isolate(leader.id);
    const pending = leader.propose(enc("never"));
    await leader.stop();
    await expect(pending).rejects.toBeInstanceOf(NodeStoppedError);
    await expect(leader.propose(enc("late"))).rejects.toBeInstanceOf(NodeStoppedError);
  });

  it("restarts from its storage with the same state", async () => {
    const { nodes, storages } = await cluster(1);
    const node = nodes.get(1)!;
    await waitFor(() => node.status().role === "leader" || undefined, "single-node leader");
    for (let i = 0; i < 5; i++) await node.propose(enc(`p${i}`));
    await node.stop();
    const sm = new ListMachine();
    const again = await RaftNode.start({
      id: 1,
      storage: storages.get(1)!,
      transport: new MemoryNetwork().transport(1),
      stateMachine: sm,
      heartbeatMs: 25,
      electionMs: 500,
    });
    started.push(again);
    await waitFor(() => again.status().role === "leader" || undefined, "leader again");
    await again.linearizableRead();
    expect(sm.items).toEqual(["p0", "p1", "p2", "p3", "p4"]);
  });
});

describe("a node stopped by a fatal storage error", () => {
  it("still stops its transport and closes its storage on stop(), so the process can exit", async () => {
    const net = new MemoryNetwork();
    const storage = new MemoryStorage();
    let closed = 0;
    let full = false;
    const failing = Object.assign(Object.create(storage) as MemoryStorage, {
      save: async (update: Parameters<MemoryStorage["save"]>[0]) => {
        if (full) throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
        return storage.save(update);
      },
      close: async () => {
        closed++;
        throw new Error("cannot flush: no space left on device");
      },
    });
    const fatal: Error[] = [];
    const transport = net.transport(1);
    const node = await RaftNode.start({
      id: 1,
      storage: failing,
      transport,
      stateMachine: new ListMachine(),
      initialCluster: new Map([[1, "127.0.0.1:7001"]]),
      heartbeatMs: 5,
      electionMs: 50,
      onFatal: (err) => fatal.push(err),
    });
    full = true;
    // Its first write after this (the election's hard state) fails the node.
    await waitFor(() => fatal.length === 1, "the fatal storage error");
    await expect(node.propose(enc("x"))).rejects.toThrow(/no space left/);
    expect(transport.running).toBe(true);
    await node.stop();
    expect(transport.stopped).toBe(true);
    expect(closed).toBe(1);
  });
});
