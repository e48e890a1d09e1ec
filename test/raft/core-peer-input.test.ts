import { describe, expect, it } from "vitest";
import { bootstrapLog } from "../../src/raft/core/bootstrap.js";
import { NotLeaderError, ProposalDroppedError } from "../../src/raft/core/errors.js";
import { MAX_INDEX, MAX_TERM } from "../../src/raft/core/limits.js";
import { Xoshiro128 } from "../../src/raft/core/prng.js";
import { RawNode } from "../../src/raft/core/rawnode.js";
import {
  EMPTY_CONF_STATE,
  type Message,
  MessageType,
  message,
  Role,
} from "../../src/raft/core/types.js";
import { MemoryStorage } from "../../src/raft/storage/memory.js";
import { bytes, Net } from "./harness.js";

/**
 * Peer messages a correct peer never sends: over the transport to a running
 * cluster (the real path, through the node's guard), and to the core on its
 * own where the guard would hide what the core does with them.
 */

const IDS = [1, 2, 3];

async function steady(): Promise<{ net: Net; leader: number; follower: number }> {
  const net = await Net.create(IDS);
  const leader = await net.electLeader();
  await net.propose(leader, "before");
  const follower = IDS.find((id) => id !== leader)!;
  return { net, leader, follower };
}

/** A single-voter node whose storage starts at `index` in `term`, as after a snapshot. */
function nodeAt(index: number, term: number): RawNode {
  const disk = new MemoryStorage();
  disk.applySnapshot({
    metadata: { index, term, confState: { ...EMPTY_CONF_STATE, voters: [1] } },
    data: new Uint8Array(0),
  });
  disk.setHardState({ term, vote: 0, commit: index });
  return new RawNode({ id: 1, storage: disk, random: new Xoshiro128(7) });
}

/** Node 1 leading voters 1 and 2, stepped by hand. */
function leaderOfTwo(): RawNode {
  const disk = new MemoryStorage();
  const { entries, hardState } = bootstrapLog([1, 2]);
  disk.append(entries);
  disk.setHardState(hardState);
  const raw = new RawNode({ id: 1, storage: disk, random: new Xoshiro128(7), preVote: false });
  // The bootstrap configuration must be applied before the node may campaign.
  raw.ready();
  raw.advance();
  raw.campaign();
  raw.step(message({ type: MessageType.VoteResp, to: 1, from: 2, term: raw.status().term }));
  return raw;
}

describe("core under peer input out of range", () => {
  it("a leader refuses an acknowledgement beyond its own log and keeps replicating", async () => {
    const { net, leader, follower } = await steady();
    const st = net.status(leader);
    const lie: Message = message({
      type: MessageType.AppResp,
      to: leader,
      from: follower,
      term: st.term,
      index: st.lastIndex + 1_000_000,
    });
    net.sendAs(lie);
    await net.settle();
    expect(net.node(leader).peerMessageRejections().get("ack-beyond-log")).toBe(1);
    await net.propose(leader, "after");
    for (const id of IDS) expect(net.appliedData(id)).toEqual(["before", "after"]);
  });

  it("the core on its own ignores an acknowledgement beyond its log", () => {
    const raw = leaderOfTwo();
    const st = raw.status();
    expect(st.role).toBe(Role.Leader);
    const lie = message({
      type: MessageType.AppResp,
      to: 1,
      from: 2,
      term: st.term,
      index: st.lastIndex + 1_000_000,
    });
    // Before: the peer's match jumped past the log and the next append threw LogUnavailableError.
    expect(() => raw.step(lie)).not.toThrow();
    expect(() => raw.propose(bytes("after"))).not.toThrow();
    const appends = raw.ready().messages.filter((m) => m.type === MessageType.App && m.to === 2);
    expect(appends.length).toBeGreaterThan(0);
    expect(raw.status().progress.find((p) => p.id === 2)?.match).toBeLessThanOrEqual(
      raw.status().lastIndex,
    );
  });

  it("a heartbeat or append committing far beyond the log commits only what the log holds", async () => {
    const { net, leader, follower } = await steady();
    const st = net.status(follower);
    net.sendAs(
      message({
        type: MessageType.Heartbeat,
        to: follower,
        from: leader,
        term: st.term,
        commit: MAX_INDEX,
      }),
    );
    net.sendAs(
      message({
        type: MessageType.App,
        to: follower,
        from: leader,
        term: st.term,
        index: MAX_INDEX - 1,
        logTerm: st.term,
        commit: MAX_INDEX,
      }),
    );
    await net.settle();
    expect(net.status(follower).commitIndex).toBe(st.lastIndex);
    expect(net.status(follower).rejectedPeerMessages).toBe(0);
    await net.propose(leader, "after");
    for (const id of IDS) expect(net.appliedData(id)).toEqual(["before", "after"]);
  });

  it("a follower refuses a snapshot whose configuration no leader could produce, log untouched", async () => {
    const { net, leader, follower } = await steady();
    const st = net.status(follower);
    net.sendAs(
      message({
        type: MessageType.Snap,
        to: follower,
        from: leader,
        term: st.term,
        snapshot: {
          // Node 2 both voter and learner: restoreConfig refuses it.
          metadata: {
            index: st.lastIndex + 50,
            term: st.term,
            confState: { ...EMPTY_CONF_STATE, voters: [1, 2, 3], learners: [2] },
          },
          data: new Uint8Array(0),
        },
      }),
    );
    await net.settle();
    expect(net.status(follower)).toMatchObject({
      lastIndex: st.lastIndex,
      commitIndex: st.commitIndex,
      snapshotIndex: 0,
      snapshotsInstalled: 0,
    });
    expect(net.disk(follower).snapshot().metadata.index).toBe(0);
    await net.propose(leader, "after");
    for (const id of IDS) expect(net.appliedData(id)).toEqual(["before", "after"]);
  });

  it("a node at the term ceiling stays a follower instead of starting a term peers refuse", () => {
    const raw = nodeAt(10, MAX_TERM);
    raw.campaign();
    expect(raw.status()).toMatchObject({ role: Role.Follower, term: MAX_TERM });
    expect(raw.hasReady()).toBe(false);
  });

  it("a leader at the index ceiling refuses proposals with a typed error", () => {
    const raw = nodeAt(MAX_INDEX - 1, 3);
    raw.campaign();
    // Its first entry of the term fills the last index.
    expect(raw.status()).toMatchObject({ role: Role.Leader, lastIndex: MAX_INDEX });
    expect(() => raw.propose(bytes("x"))).toThrow(ProposalDroppedError);
    expect(raw.status().lastIndex).toBe(MAX_INDEX);
  });

  it("a forwarded transfer reaching a node that knows no leader is dropped, not thrown", async () => {
    const { net, leader, follower } = await steady();
    const other = IDS.find((id) => id !== follower && id !== leader)!;
    // A newer term from a non-leader: a follower that knows no leader yet.
    const term = net.status(follower).term + 1;
    net.sendAs(message({ type: MessageType.AppResp, to: follower, from: other, term }));
    await net.settle();
    expect(net.status(follower)).toMatchObject({ role: Role.Follower, leader: 0, term });
    // Before: NotLeaderError escaped step() and stopped the node (settle throws if it fails).
    net.sendAs(message({ type: MessageType.TransferLeader, to: follower, from: other }));
    await net.settle();
    expect(net.status(follower).rejectedPeerMessages).toBe(0);
    // Still running: a request meets a follower without a leader, not a failed node.
    await expect(net.node(follower).linearizableRead()).rejects.toThrow(NotLeaderError);
  });
});
