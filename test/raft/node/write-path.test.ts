import { afterEach, describe, expect, it } from "vitest";
import { MessageType } from "../../../src/raft/core/index.js";
import { RaftNode } from "../../../src/raft/node/node.js";
import type { StateMachine } from "../../../src/raft/node/ports.js";
import { decodeNodeSnapshot } from "../../../src/raft/node/snapshot-codec.js";
import { MemoryStorage } from "../../../src/raft/storage/memory.js";
import type { PersistUpdate } from "../../../src/raft/storage/node-storage.js";
import { MemoryNetwork } from "../../../src/raft/transport/index.js";
import { waitFor } from "../../support/wait-for.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A manual latch: `wait()` resolves once `open()` is called. */
class Gate {
  private release: () => void = () => {};
  private opened: Promise<void> = Promise.resolve();
  close(): void {
    this.opened = new Promise((r) => {
      this.release = r;
    });
  }
  open(): void {
    this.release();
  }
  wait(): Promise<void> {
    return this.opened;
  }
}

/** MemoryStorage whose saves can be held back, as a slow fsync. */
class GatedStorage extends MemoryStorage {
  readonly gate = new Gate();
  saving = 0;
  override async save(update: PersistUpdate): Promise<void> {
    this.saving++;
    await this.gate.wait();
    this.saving--;
    return super.save(update);
  }
}

/**
 * Appends each entry's text. Its snapshot is a point-in-time view as of the
 * call (the StateMachine contract), streamed only once `streamGate` opens.
 */
class ListMachine implements StateMachine<number> {
  items: string[] = [];
  readonly streamGate = new Gate();
  snapshotsTaken = 0;
  /** The state the latest snapshot() call saw. */
  lastView: string[] = [];
  apply(e: { data: Uint8Array }): number {
    this.items.push(dec(e.data));
    return this.items.length;
  }
  snapshot(): AsyncIterable<Uint8Array> {
    this.snapshotsTaken++;
    const view = this.items.slice();
    this.lastView = view;
    const gate = this.streamGate;
    return (async function* () {
      await gate.wait();
      yield enc(JSON.stringify(view));
    })();
  }
  async restore(data: AsyncIterable<Uint8Array>): Promise<void> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of data) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    this.items = bytes.byteLength === 0 ? [] : JSON.parse(dec(bytes));
  }
}

const started: RaftNode<number>[] = [];
const gates: Gate[] = [];
afterEach(async () => {
  // A failed case may leave a save or a stream held: release them so stop() can finish.
  for (const g of gates.splice(0)) g.open();
  await Promise.all(started.splice(0).map((n) => n.stop()));
});

async function cluster(n: number, snapshotEveryEntries = 0) {
  const net = new MemoryNetwork();
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const initialCluster = new Map(ids.map((id) => [id, `127.0.0.1:${7100 + id}`]));
  const members = new Map<
    number,
    { node: RaftNode<number>; storage: GatedStorage; sm: ListMachine }
  >();
  for (const id of ids) {
    const storage = new GatedStorage();
    const sm = new ListMachine();
    const node = await RaftNode.start({
      id,
      storage,
      transport: net.transport(id),
      stateMachine: sm,
      initialCluster,
      heartbeatMs: 25,
      electionMs: 1000,
      snapshotEveryEntries,
    });
    started.push(node);
    gates.push(storage.gate, sm.streamGate);
    members.set(id, { node, storage, sm });
  }
  const leader = await waitFor(
    () => [...members.values()].find((m) => m.node.status().role === "leader"),
    "a leader",
  );
  // Its first entry applied: nothing of the election is still being written.
  await waitFor(() => {
    const st = leader.node.status();
    return st.appliedIndex === st.lastIndex && st.commitIndex === st.lastIndex;
  }, "the leader's first entry applied");
  return { net, members, leader };
}

describe("the leader writes its log in parallel with replicating it", () => {
  it("followers persist an entry while the leader's save is pending; it applies after", async () => {
    const { members, leader } = await cluster(3);
    const followers = [...members.values()].filter((m) => m !== leader);
    const before = leader.node.status().lastIndex;
    leader.storage.gate.close();
    const proposal = leader.node.propose(enc("x"));
    let settled = false;
    void proposal.finally(() => {
      settled = true;
    });
    // The MsgApps left before the leader's save completed...
    await waitFor(
      () => followers.every((f) => f.storage.lastIndex() > before),
      "followers persisted the entry",
    );
    expect(leader.storage.saving).toBe(1);
    expect(leader.storage.lastIndex()).toBe(before);
    // ...and two durable copies of three commit it, but nothing is applied
    // where it is not yet durable: the leader's own state machine waits.
    await waitFor(() => leader.node.status().commitIndex > before, "committed by the followers");
    expect(leader.sm.items).toEqual([]);
    expect(settled).toBe(false);
    leader.storage.gate.open();
    expect(await proposal).toBe(1);
    expect(leader.storage.lastIndex()).toBeGreaterThan(before);
  });

  it("a leader alone (its save pending) does not commit: its own copy counts once durable", async () => {
    const { members, leader, net } = await cluster(3);
    const followers = [...members.values()].filter((m) => m !== leader);
    const target = followers[0]!;
    // Only one follower hears the leader: it and the leader must both be durable.
    net.setFilter((m) => !(m.from === leader.node.id && m.to !== target.node.id));
    const before = leader.node.status().lastIndex;
    leader.storage.gate.close();
    const proposal = leader.node.propose(enc("y"));
    await waitFor(() => target.storage.lastIndex() > before, "one follower persisted it");
    await waitFor(
      () =>
        leader.node.status().peers.find((p) => p.id === target.node.id)!.matchIndex === before + 1,
      "the follower acknowledged",
    );
    expect(leader.node.status().commitIndex).toBe(before);
    leader.storage.gate.open();
    expect(await proposal).toBe(1);
  });
});

describe("applying overlaps the next write", () => {
  it("a follower applies what an earlier save made durable while its next save is pending", async () => {
    const { members, leader, net } = await cluster(3);
    const follower = [...members.values()].find((m) => m !== leader)!;
    // Nothing still on its way to the follower (an empty append the leader
    // held back, say), which the filter below would drop.
    await waitFor(() => {
      const { lastIndex, peers } = leader.node.status();
      const match = peers.find((p) => p.id === follower.node.id)!.matchIndex;
      return match === lastIndex && follower.node.status().commitIndex === lastIndex;
    }, "the follower caught up");
    // The follower hears of new commits only with the next entries.
    net.setFilter(
      (m) =>
        m.to !== follower.node.id ||
        (m.type !== MessageType.Heartbeat &&
          !(m.type === MessageType.App && m.entries.length === 0)),
    );
    const before = follower.node.status().commitIndex;
    expect(await leader.node.propose(enc("x"))).toBe(1);
    await waitFor(() => follower.storage.lastIndex() === before + 1, "the follower holds x");
    expect(follower.node.status().commitIndex).toBe(before);
    follower.storage.gate.close();
    const y = leader.node.propose(enc("y"));
    // One Ready appends y and commits x: x is applied while y is being written.
    await waitFor(() => follower.sm.items.length === 1, "x applied on the follower");
    expect(follower.sm.items).toEqual(["x"]);
    expect(follower.storage.saving).toBe(1);
    expect(follower.storage.lastIndex()).toBe(before + 1);
    follower.storage.gate.open();
    expect(await y).toBe(2);
    net.setFilter(undefined);
    await waitFor(() => follower.sm.items.length === 2, "y applied on the follower");
    expect(follower.sm.items).toEqual(["x", "y"]);
  });

  it("an entry that arrives already committed applies only once the save holding it is done", async () => {
    const { members, leader, net } = await cluster(3);
    const follower = [...members.values()].find((m) => m !== leader)!;
    net.setFilter((m) => m.to !== follower.node.id);
    const before = follower.node.status().lastIndex;
    expect(await leader.node.propose(enc("z"))).toBe(1);
    follower.storage.gate.close();
    net.setFilter(undefined);
    // Entries and a commit covering them in one Ready: z is written, not yet applied.
    await waitFor(
      () => follower.node.status().commitIndex === before + 1 && follower.storage.saving === 1,
      "the follower learns z with its commit",
    );
    expect(follower.sm.items).toEqual([]);
    follower.storage.gate.open();
    await waitFor(() => follower.sm.items.length === 1, "z applied once durable");
    expect(follower.storage.lastIndex()).toBe(before + 1);
  });
});

describe("snapshots are written in the background", () => {
  it("the Ready loop commits and applies while the state machine's stream is stalled", async () => {
    const { leader } = await cluster(1, 5);
    leader.sm.streamGate.close();
    for (let i = 0; i < 5; i++) await leader.node.propose(enc(`a${i}`));
    await waitFor(() => leader.sm.snapshotsTaken === 1, "a snapshot started");
    const view = leader.sm.lastView;
    // Proposals keep committing and applying while the snapshot waits.
    for (let i = 0; i < 12; i++) await leader.node.propose(enc(`b${i}`));
    expect(leader.sm.items).toHaveLength(17);
    // One at a time: no second snapshot while the first is in flight.
    expect(leader.sm.snapshotsTaken).toBe(1);
    expect(leader.node.status().snapshotIndex).toBe(0);
    expect(leader.storage.firstIndex()).toBe(1);

    leader.sm.streamGate.open();
    await waitFor(() => leader.node.status().snapshotIndex > 0, "the snapshot is durable");
    // The log is compacted only now, and the snapshot holds the state as of its index.
    const snapAt = leader.node.status().snapshotIndex;
    expect(leader.storage.firstIndex()).toBe(snapAt + 1);
    const source = await leader.storage.openSnapshot();
    const { app } = await decodeNodeSnapshot(source.chunks());
    const chunks: Uint8Array[] = [];
    for await (const c of app) chunks.push(c);
    expect(JSON.parse(dec(Buffer.concat(chunks)))).toEqual(view);
    expect(view.length).toBeGreaterThan(0);
    expect(view.length).toBeLessThan(17);
    // The next one is due again, and starts.
    await leader.node.propose(enc("c"));
    await waitFor(() => leader.sm.snapshotsTaken === 2, "the next snapshot");
  });

  it("stop() abandons a stalled snapshot and leaves the log whole", async () => {
    const { leader } = await cluster(1, 3);
    leader.sm.streamGate.close();
    for (let i = 0; i < 3; i++) await leader.node.propose(enc(`s${i}`));
    await waitFor(() => leader.sm.snapshotsTaken === 1, "a snapshot started");
    await leader.node.stop(); // resolves although the stream never yields
    expect(leader.storage.snapshot().metadata.index).toBe(0);
    expect(leader.storage.firstIndex()).toBe(1);
  });
});
