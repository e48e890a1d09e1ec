import { describe, expect, it } from "vitest";
import { bootstrapLog } from "../../../src/raft/core/bootstrap.js";
import { Xoshiro128 } from "../../../src/raft/core/prng.js";
import { RawNode, type Ready } from "../../../src/raft/core/rawnode.js";
import { type Message, MessageType, Role } from "../../../src/raft/core/types.js";
import { MemoryStorage } from "../../../src/raft/storage/memory.js";

/**
 * The leader writes its log in parallel with replicating it (thesis 10.2.1),
 * so its own copy may count toward the commit quorum only once it is durable.
 * These cases drive three cores by hand: the leader's Ready is taken (its
 * messages leave) but its save is held back, as while an fsync is pending.
 */

interface Member {
  readonly raw: RawNode;
  readonly storage: MemoryStorage;
}

function cluster(): Map<number, Member> {
  const members = new Map<number, Member>();
  for (const id of [1, 2, 3]) {
    const storage = new MemoryStorage();
    const { entries, hardState } = bootstrapLog([1, 2, 3]);
    storage.append(entries);
    storage.setHardState(hardState);
    // No check-quorum: its startup quiet period would refuse this hand-driven election.
    const raw = new RawNode({ id, storage, random: new Xoshiro128(id), checkQuorum: false });
    members.set(id, { raw, storage });
  }
  return members;
}

/** Persists a Ready the way the node does: entries and hard state, then advance. */
function persist(m: Member, rd: Ready): void {
  if (rd.entries.length > 0) m.storage.append(rd.entries);
  if (rd.hardState) m.storage.setHardState(rd.hardState);
  m.raw.advance();
}

/** Runs every member but `held` to quiescence; messages to `held` stay in `outbox`. */
function settle(members: Map<number, Member>, outbox: Message[], held?: number): void {
  for (let round = 0; round < 100; round++) {
    let moved = false;
    for (const [id, m] of members) {
      if (id === held || !m.raw.hasReady()) continue;
      moved = true;
      const rd = m.raw.ready();
      persist(m, rd);
      outbox.push(...rd.messages);
    }
    const deliver = outbox.splice(0);
    for (const msg of deliver) {
      if (msg.to === held) {
        outbox.push(msg); // for the test to hand over
        continue;
      }
      moved = true;
      members.get(msg.to)!.raw.step(msg);
    }
    if (!moved) return;
  }
  throw new Error("cluster did not settle");
}

function electOne(members: Map<number, Member>): void {
  settle(members, []); // apply the bootstrap configuration: a node with it unapplied does not campaign
  members.get(1)!.raw.campaign();
  settle(members, []);
  expect(members.get(1)!.raw.status().role).toBe(Role.Leader);
}

describe("a leader's own copy counts toward commit only once durable", () => {
  it("a leader with a pending save and one acknowledging follower does not commit", () => {
    const members = cluster();
    electOne(members);
    const leader = members.get(1)!;
    const committedBefore = leader.raw.status().commit;
    const pos = leader.raw.propose(new TextEncoder().encode("x"))!;

    // The leader's Ready: its MsgApps leave now, its save is still pending.
    const rd = leader.raw.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([pos.index]);
    const apps = rd.messages.filter((m) => m.type === MessageType.App);
    expect(apps.map((m) => m.to).sort()).toEqual([2, 3]);

    // Only follower 2 receives it, persists it and acknowledges.
    const outbox: Message[] = [];
    members.get(2)!.raw.step(apps.find((m) => m.to === 2)!);
    settle(members, outbox, 1);
    const ack = outbox.find((m) => m.type === MessageType.AppResp && m.from === 2)!;
    expect(ack.index).toBe(pos.index);
    leader.raw.step(ack);
    // One durable copy of three: no quorum, whatever the leader's memory holds.
    expect(leader.raw.status().commit).toBe(committedBefore);
    expect(leader.raw.status().progress.find((p) => p.id === 1)!.match).toBeLessThan(pos.index);

    // The leader's save completes: its copy is the second durable one.
    persist(leader, rd);
    expect(leader.raw.status().commit).toBe(pos.index);
    // The new commit index goes out to the followers at once.
    const next = leader.raw.ready();
    expect(next.committedEntries.map((e) => e.index)).toEqual([pos.index]);
    expect(next.messages.some((m) => m.type === MessageType.App && m.commit === pos.index)).toBe(
      true,
    );
  });

  it("two followers' durable copies commit while the leader's save is pending", () => {
    const members = cluster();
    electOne(members);
    const leader = members.get(1)!;
    const pos = leader.raw.propose(new TextEncoder().encode("y"))!;
    const rd = leader.raw.ready();
    const outbox = rd.messages.slice();
    settle(members, outbox, 1);
    for (const ack of outbox.splice(0)) leader.raw.step(ack);
    // A quorum of durable copies (the followers) exists: committed, though
    // the leader applies it only after its own save (the next Ready).
    expect(leader.raw.status().commit).toBe(pos.index);
    expect(rd.committedEntries.map((e) => e.index)).not.toContain(pos.index);
    persist(leader, rd);
    expect(leader.raw.ready().committedEntries.map((e) => e.index)).toEqual([pos.index]);
  });
});
