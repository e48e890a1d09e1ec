import { describe, expect, it } from "vitest";
import { bootstrapLog } from "../../../src/raft/core/bootstrap.js";
import { Xoshiro128 } from "../../../src/raft/core/prng.js";
import { RawNode } from "../../../src/raft/core/rawnode.js";
import { EntryType, type Message, MessageType, Role } from "../../../src/raft/core/types.js";
import { WalStorage } from "../../../src/raft/storage/wal-storage.js";
import { SimFs } from "./sim-fs.js";

const text = new TextEncoder();
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

/** One member: its disk, its storage, its core, and its applied state (a list of commands). */
interface Member {
  readonly id: number;
  readonly fs: SimFs;
  storage: WalStorage;
  raw: RawNode;
  state: string[];
  up: boolean;
}

const dirOf = (id: number) => `/data/node-${id}`;
const random = new Xoshiro128(99);

async function start(
  id: number,
  fs: SimFs,
): Promise<{ storage: WalStorage; raw: RawNode; state: string[] }> {
  const storage = await WalStorage.open(dirOf(id), {
    clusterId: "it",
    nodeId: id,
    fs,
    segmentMaxBytes: 4096,
  });
  // Restore the state machine from the snapshot, then the core re-delivers the log after it.
  const reader = await storage.openSnapshot();
  const data = await reader.readAll();
  await reader.close();
  const state: string[] = data.length > 0 ? (JSON.parse(decode(data)) as string[]) : [];
  const raw = new RawNode({ id, storage, random: random.fork(), maxSizePerMsgBytes: 512 });
  return { storage, raw, state };
}

async function makeCluster(ids: number[]): Promise<Map<number, Member>> {
  const members = new Map<number, Member>();
  const { entries, hardState } = bootstrapLog(ids);
  for (const id of ids) {
    const fs = new SimFs();
    const boot = await WalStorage.open(dirOf(id), { clusterId: "it", nodeId: id, fs });
    await boot.save({ entries, hardState });
    await boot.close();
    members.set(id, { id, fs, ...(await start(id, fs)), up: true });
  }
  return members;
}

/** Runs every member's Ready loop the way a node runtime does: persist, then send, then apply. */
async function settle(members: Map<number, Member>): Promise<void> {
  for (let round = 0; round < 500; round++) {
    const outbox: Message[] = [];
    for (const m of members.values()) {
      if (!m.up || !m.raw.hasReady()) continue;
      const rd = m.raw.ready();
      await m.storage.save(rd);
      for (const msg of rd.messages) {
        // In-band snapshots: reading `data` pulls the bytes from the snapshot file.
        outbox.push(
          msg.snapshot
            ? { ...msg, snapshot: { metadata: msg.snapshot.metadata, data: msg.snapshot.data } }
            : msg,
        );
      }
      if (rd.snapshot) m.state = JSON.parse(decode(m.storage.snapshot().data)) as string[];
      for (const e of rd.committedEntries) {
        if (
          e.type === EntryType.Normal &&
          e.data.length > 0 &&
          e.index > m.storage.snapshotMetadata().index
        ) {
          m.state.push(decode(e.data));
        }
      }
      m.raw.advance();
      for (const msg of rd.messages)
        if (msg.type === MessageType.Snap) m.raw.reportSnapshot(msg.to, true);
    }
    if (outbox.length === 0) return;
    for (const msg of outbox) {
      const to = members.get(msg.to);
      if (to?.up) to.raw.step(msg);
    }
  }
  throw new Error("cluster did not settle");
}

async function elect(members: Map<number, Member>, id: number): Promise<void> {
  for (let i = 0; i < 12; i++) for (const m of members.values()) if (m.up) m.raw.tick();
  await settle(members);
  members.get(id)!.raw.campaign();
  await settle(members);
  expect(members.get(id)!.raw.status().role).toBe(Role.Leader);
}

async function propose(
  members: Map<number, Member>,
  leader: number,
  commands: string[],
): Promise<void> {
  for (const c of commands) {
    members.get(leader)!.raw.propose(text.encode(c));
    await settle(members);
  }
}

/** Lets election timeouts run until some member leads; returns it. */
async function awaitLeader(members: Map<number, Member>): Promise<number> {
  for (let i = 0; i < 100; i++) {
    for (const m of members.values()) if (m.up) m.raw.tick();
    await settle(members);
    const leader = [...members.values()].find((m) => m.up && m.raw.status().role === Role.Leader);
    if (leader) return leader.id;
  }
  throw new Error("no leader elected");
}

const commands = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => `set k${from + i}`);

describe("WalStorage under the Raft core", () => {
  it("replicates, snapshots, catches a restarted follower up by snapshot, and survives a full restart", async () => {
    const members = await makeCluster([1, 2, 3]);
    await elect(members, 1);
    await propose(members, 1, commands(0, 10));
    for (const m of members.values()) expect(m.state).toEqual(commands(0, 10));

    // Member 3 goes down; the others move on and compact their logs behind a snapshot.
    const m3 = members.get(3)!;
    await m3.storage.close();
    m3.up = false;
    await propose(members, 1, commands(10, 20));
    for (const id of [1, 2]) {
      const m = members.get(id)!;
      const applied = m.raw.status().applied;
      await m.storage.createSnapshot(
        applied,
        m.raw.status().confState,
        text.encode(JSON.stringify(m.state)),
      );
      expect(m.storage.firstIndex()).toBe(applied + 1);
    }

    // Member 3 restarts from its disk and is caught up with a snapshot (its next entry is compacted away).
    Object.assign(m3, await start(3, m3.fs), { up: true });
    await settle(members);
    expect(m3.state).toEqual(commands(0, 10)); // replayed from its own log
    for (let i = 0; i < 3; i++) {
      members.get(1)!.raw.tick();
      await settle(members);
    }
    expect(m3.storage.snapshotMetadata().index).toBe(
      members.get(1)!.storage.snapshotMetadata().index,
    );
    expect(m3.state).toEqual(commands(0, 30));
    await propose(members, 1, commands(30, 5));
    for (const m of members.values()) expect(m.state).toEqual(commands(0, 35));

    // Everyone restarts from disk: logs, votes and snapshots come back; the cluster carries on.
    const leaderLast = members.get(1)!.storage.lastIndex();
    for (const m of members.values()) {
      await m.storage.close();
      Object.assign(m, await start(m.id, m.fs));
      expect(m.storage.lastIndex()).toBe(leaderLast);
    }
    const leader = await awaitLeader(members);
    await propose(members, leader, commands(35, 3));
    for (const m of members.values()) expect(m.state).toEqual(commands(0, 38));
    for (const m of members.values()) await m.storage.close();
  });
});
