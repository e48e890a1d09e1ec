import { describe, expect, it } from "vitest";
import { ProposalDroppedError } from "../../src/raft/core/errors.js";
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

/** The core on its own, fed peer messages a correct peer never sends. */

const IDS = [1, 2, 3];

function steady(): { net: Net; leader: number; follower: number } {
  const net = new Net(IDS);
  const leader = net.electLeader();
  net.propose(leader, "before");
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

describe("core under peer input out of range", () => {
  it("a leader ignores an acknowledgement beyond its own log and keeps replicating", () => {
    const { net, leader, follower } = steady();
    const st = net.status(leader);
    const lie: Message = message({
      type: MessageType.AppResp,
      to: leader,
      from: follower,
      term: st.term,
      index: st.lastIndex + 1_000_000,
    });
    // Before: the peer's match jumped past the log and the next append threw LogUnavailableError.
    expect(() => net.node(leader).step(lie)).not.toThrow();
    net.settle();
    net.propose(leader, "after");
    for (const id of IDS) expect(net.appliedData(id)).toEqual(["before", "after"]);
  });

  it("a heartbeat or append committing far beyond the log commits only what the log holds", () => {
    const { net, leader, follower } = steady();
    const st = net.status(follower);
    const raw = net.node(follower);
    raw.step(
      message({
        type: MessageType.Heartbeat,
        to: follower,
        from: leader,
        term: st.term,
        commit: MAX_INDEX,
      }),
    );
    raw.step(
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
    expect(raw.status().commit).toBe(st.lastIndex);
    net.settle();
    net.propose(leader, "after");
    for (const id of IDS) expect(net.appliedData(id)).toEqual(["before", "after"]);
  });

  it("a follower refuses a snapshot whose configuration no leader could produce, log untouched", () => {
    const { net, leader, follower } = steady();
    const st = net.status(follower);
    const raw = net.node(follower);
    raw.step(
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
    expect(raw.status()).toMatchObject({ lastIndex: st.lastIndex, commit: st.commit });
    net.settle();
    net.propose(leader, "after");
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

  it("a forwarded transfer reaching a node that knows no leader is dropped, not thrown", () => {
    const { net, follower } = steady();
    const raw = net.node(follower);
    const other = IDS.find((id) => id !== follower && id !== net.leader())!;
    // A newer term from a non-leader: a follower that knows no leader yet.
    const term = raw.status().term + 1;
    raw.step(message({ type: MessageType.AppResp, to: follower, from: other, term }));
    expect(raw.status()).toMatchObject({ role: Role.Follower, lead: 0, term });
    const forwarded = message({ type: MessageType.TransferLeader, to: follower, from: other });
    // Before: NotLeaderError escaped step() and stopped the node.
    expect(() => raw.step(forwarded)).not.toThrow();
  });
});
