import { describe, expect, it } from "vitest";
import { type Random, Xoshiro128 } from "../../../src/raft/core/prng.js";
import { type NodeId, Role } from "../../../src/raft/core/types.js";
import { WalStorage } from "../../../src/raft/storage/wal-storage.js";
import { Net, type NodeDisks } from "../harness.js";
import { SimFs } from "./sim-fs.js";

const ELECTION_TICKS = 10;
const dirOf = (id: NodeId) => `/data/node-${id}`;

/** A crash that keeps nothing unsynced: no torn tail, no unsynced directory entry. */
const loseAllUnsynced: Random = { int: () => 0, float: () => 0.99 };

/**
 * Each node's data directory on its own SimFs, opened as the real WAL. A
 * crash replaces the node's file system with what survives it: the synced
 * bytes plus, as `random` picks, torn remains of unsynced writes.
 */
class SimDisks implements NodeDisks {
  private readonly fss = new Map<NodeId, SimFs>();
  /** Nodes whose next fsyncs never finish (until their process dies). */
  private readonly stalled = new Set<NodeId>();

  constructor(private readonly random: Random) {}

  async open(id: NodeId): Promise<WalStorage> {
    let fs = this.fss.get(id);
    if (fs === undefined) {
      fs = new SimFs({
        holdSync: () => (this.stalled.has(id) ? new Promise<void>(() => {}) : undefined),
      });
      this.fss.set(id, fs);
    }
    return WalStorage.open(dirOf(id), { clusterId: "it", nodeId: id, fs, segmentMaxBytes: 4096 });
  }

  crash(id: NodeId): void {
    const fs = this.fss.get(id);
    if (fs !== undefined) this.fss.set(id, fs.crashImage(this.random));
    this.stalled.delete(id);
  }

  /** From now on the node's fsyncs hang: what it writes stays unsynced. */
  stallSyncs(id: NodeId): void {
    this.stalled.add(id);
  }
}

/** A three-member cluster of RaftNodes on WalStorage over SimFs, with node 1 elected. */
async function cluster(disks: SimDisks, snapshotEveryEntries: number, seed: number): Promise<Net> {
  const net = await Net.create(
    [1, 2, 3],
    { disks, snapshotEveryEntries, electionTicks: ELECTION_TICKS, maxSizePerMsgBytes: 512 },
    seed,
  );
  // A freshly started member grants no vote for an election timeout (thesis 4.2.3).
  await net.tickAll(ELECTION_TICKS);
  await net.campaign(1);
  expect(net.leader()).toBe(1);
  return net;
}

async function proposeAll(net: Net, leader: NodeId, commands: string[]): Promise<void> {
  for (const c of commands) {
    const { outcome } = await net.propose(leader, c);
    expect(outcome.state).toBe("resolved");
  }
}

/**
 * A restarted node applies its own log up to the commit index it finds on
 * disk. Entries are synced before the node acknowledges them, but the
 * commit index of the last one may have been written without an fsync
 * (it is never needed for safety) and lost in the crash: at most that
 * entry waits for the leader.
 */
function expectReplayedOwnLog(net: Net, id: NodeId, appliedBefore: string[]): void {
  const replayed = net.appliedData(id);
  expect(replayed).toEqual(appliedBefore.slice(0, replayed.length));
  expect(replayed.length).toBeGreaterThanOrEqual(appliedBefore.length - 1);
  expect(net.status(id).appliedIndex).toBe(net.status(id).commitIndex);
}

const wal = (net: Net, id: NodeId): WalStorage => net.storage(id) as WalStorage;

const commands = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => `set k${from + i}`);

describe("RaftNode on WalStorage over a simulated file system", () => {
  it("replicates, snapshots, catches a restarted follower up by snapshot, and survives a full restart", async () => {
    const disks = new SimDisks(new Xoshiro128(99));
    const net = await cluster(disks, 20, 99);
    await proposeAll(net, 1, commands(0, 10));
    for (const id of [1, 2, 3]) expect(net.appliedData(id)).toEqual(commands(0, 10));
    expect(net.status(3).snapshotIndex).toBe(0);

    // Member 3 goes down; the others move on and compact their logs behind a snapshot.
    const downAt = wal(net, 3).lastIndex();
    net.crash(3);
    await proposeAll(net, 1, commands(10, 20));
    for (const id of [1, 2]) {
      const snapIndex = net.status(id).snapshotIndex;
      expect(wal(net, id).snapshotMetadata().index).toBe(snapIndex);
      expect(wal(net, id).firstIndex()).toBe(snapIndex + 1);
      // The entries member 3 lacks are gone: only a snapshot can bring it up to date.
      expect(snapIndex).toBeGreaterThan(downAt + 1);
    }

    // Member 3 restarts from its WAL (it took no snapshot of its own) ...
    await net.start(3);
    expect(wal(net, 3).lastIndex()).toBe(downAt);
    expectReplayedOwnLog(net, 3, commands(0, 10));
    // ... and the leader's heartbeats find it behind the compacted log: it gets the snapshot.
    await net.tick(1, 3);
    expect(net.status(3).snapshotsInstalled).toBe(1);
    expect(wal(net, 3).snapshotMetadata().index).toBe(wal(net, 1).snapshotMetadata().index);
    expect(net.appliedData(3)).toEqual(commands(0, 30));
    await proposeAll(net, 1, commands(30, 5));
    for (const id of [1, 2, 3]) expect(net.appliedData(id)).toEqual(commands(0, 35));

    // Everyone crashes and restarts from disk: logs, votes and snapshots come back.
    const leaderLast = wal(net, 1).lastIndex();
    const terms = [1, 2, 3].map((id) => net.status(id).term);
    for (const id of [1, 2, 3]) net.crash(id);
    for (const id of [1, 2, 3]) {
      await net.start(id);
      expect(wal(net, id).lastIndex()).toBe(leaderLast);
      expect(net.status(id).term).toBe(terms[id - 1]);
      expect(net.status(id).snapshotIndex).toBe(wal(net, id).snapshotMetadata().index);
    }
    // The cluster carries on under whoever wins the next election.
    const leader = await net.electLeader();
    await proposeAll(net, leader, commands(35, 3));
    for (const id of [1, 2, 3]) expect(net.appliedData(id)).toEqual(commands(0, 38));
  });

  it("a follower that crashes before its fsync loses the unsynced entries and catches up", async () => {
    const disks = new SimDisks(loseAllUnsynced);
    const net = await cluster(disks, 0, 7);
    await proposeAll(net, 1, commands(0, 2));
    const synced = wal(net, 3).lastIndex();
    expect(net.status(3).commitIndex).toBe(synced);

    // Member 3 writes the next entries but never syncs them; 1 and 2 commit without it.
    disks.stallSyncs(3);
    await proposeAll(net, 1, commands(2, 3));
    const leaderLast = wal(net, 1).lastIndex();
    expect(leaderLast).toBe(synced + 3);
    expect(net.appliedData(3)).toEqual(commands(0, 2));
    expect(net.status(3).lastIndex).toBe(leaderLast);
    expect(wal(net, 3).lastIndex()).toBeGreaterThan(synced); // written, never synced

    // Its crash loses what was not synced: it restarts from the synced log alone.
    net.crash(3);
    await net.start(3);
    expect(wal(net, 3).lastIndex()).toBe(synced);
    expectReplayedOwnLog(net, 3, commands(0, 2));
    expect(net.status(3).role).toBe(Role.Follower);

    // The leader's next heartbeat finds it behind and sends it the lost entries.
    await net.tick(1, 2);
    expect(wal(net, 3).lastIndex()).toBe(leaderLast);
    expect(net.appliedData(3)).toEqual(commands(0, 5));
    await proposeAll(net, 1, commands(5, 1));
    for (const id of [1, 2, 3]) expect(net.appliedData(id)).toEqual(commands(0, 6));
  });
});
