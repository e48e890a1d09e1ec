import { describe, expect, it } from "vitest";
import { MAX_TERM_JUMP } from "../../../src/raft/core/limits.js";
import type { BasicStatus } from "../../../src/raft/core/rawnode.js";
import {
  EMPTY_CONF_STATE,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  message,
  NO_NODE,
  Role,
} from "../../../src/raft/core/types.js";
import {
  checkPeerMessage,
  PeerMessageGuard,
  type PeerMessageRejection,
} from "../../../src/raft/node/message-guard.js";
import { bytes, Net, track } from "../harness.js";

const follower: BasicStatus = {
  id: 1,
  term: 7,
  lead: 2,
  role: Role.Follower,
  commit: 40,
  lastIndex: 44,
};
const leader: BasicStatus = { ...follower, lead: 1, role: Role.Leader };

const entry = (term: number, index: number): Entry => ({
  term,
  index,
  type: EntryType.Normal,
  data: new Uint8Array(0),
});

const app = (fields: Partial<Message>): Message =>
  message({ type: MessageType.App, to: 1, from: 2, term: 7, logTerm: 7, index: 44, ...fields });

const snap = (index: number, term: number, msgTerm = 7): Message =>
  message({
    type: MessageType.Snap,
    to: 1,
    from: 2,
    term: msgTerm,
    snapshot: { metadata: { index, term, confState: EMPTY_CONF_STATE }, data: new Uint8Array(0) },
  });

const cases: Array<[string, Message, BasicStatus, PeerMessageRejection]> = [
  [
    "a message for another node",
    message({ type: MessageType.Heartbeat, to: 3, from: 2, term: 7 }),
    follower,
    "misaddressed",
  ],
  [
    "a message from this node itself",
    message({ type: MessageType.Vote, to: 1, from: 1, term: 8 }),
    follower,
    "misaddressed",
  ],
  [
    "a proposal without entries (the leader asserts it has some)",
    message({ type: MessageType.Prop, to: 1, from: 3 }),
    leader,
    "unexpected-entries",
  ],
  [
    "the 2^53-2 heartbeat",
    message({ type: MessageType.Heartbeat, to: 1, from: 3, term: 2 ** 53 - 2 }),
    follower,
    "term-jump",
  ],
  [
    "a vote one past the term jump",
    message({ type: MessageType.Vote, to: 1, from: 3, term: 7 + MAX_TERM_JUMP + 1 }),
    follower,
    "term-jump",
  ],
  ["an append without a term", app({ term: 0, logTerm: 0 }), follower, "missing-term"],
  [
    "a heartbeat response without a term",
    message({ type: MessageType.HeartbeatResp, to: 1, from: 3 }),
    leader,
    "missing-term",
  ],
  [
    "a forwarded proposal with a term",
    message({ type: MessageType.Prop, to: 1, from: 3, term: 9, entries: [entry(0, 0)] }),
    leader,
    "unexpected-term",
  ],
  [
    "a vote whose last log term is newer than its term",
    message({ type: MessageType.Vote, to: 1, from: 3, term: 8, logTerm: 9, index: 50 }),
    follower,
    "log-term-above-term",
  ],
  [
    "entries on a heartbeat",
    message({ type: MessageType.Heartbeat, to: 1, from: 2, term: 7, entries: [entry(7, 45)] }),
    follower,
    "unexpected-entries",
  ],
  [
    "an append with a gap",
    app({ entries: [entry(7, 45), entry(7, 47)] }),
    follower,
    "entries-not-contiguous",
  ],
  [
    "an append that rewrites committed history",
    app({ entries: [entry(7, 45), entry(7, 3)] }),
    follower,
    "entries-not-contiguous",
  ],
  ["an entry from a future term", app({ entries: [entry(8, 45)] }), follower, "entry-term"],
  ["an entry of term 0", app({ logTerm: 0, entries: [entry(0, 45)] }), follower, "entry-term"],
  [
    "entry terms going backwards",
    app({ logTerm: 5, entries: [entry(6, 45), entry(5, 46)] }),
    follower,
    "entry-term",
  ],
  [
    "an entry older than the entry before it",
    app({ logTerm: 6, entries: [entry(5, 45)] }),
    follower,
    "entry-term",
  ],
  ["a snapshot from a future term", snap(100, 8), follower, "snapshot-metadata"],
  ["a snapshot at index 0", snap(0, 7), follower, "snapshot-metadata"],
  ["an append from a second leader of our term", app({ from: 3 }), follower, "second-leader"],
  [
    "a heartbeat to a leader from another leader of its term",
    message({ type: MessageType.Heartbeat, to: 1, from: 3, term: 7 }),
    leader,
    "second-leader",
  ],
  [
    "an acknowledgement past the leader's log",
    message({ type: MessageType.AppResp, to: 1, from: 3, term: 7, index: 2 ** 31 }),
    leader,
    "ack-beyond-log",
  ],
];

describe("checkPeerMessage", () => {
  for (const [what, m, local, reason] of cases) {
    it(`refuses ${what} (${reason})`, () => {
      expect(checkPeerMessage(m, local)?.reason).toBe(reason);
    });
  }

  it("lets in a leader of a newer term, within the jump, and a first leader of our term", () => {
    const newer = app({ from: 3, term: 7 + MAX_TERM_JUMP, entries: [entry(7, 45)] });
    expect(checkPeerMessage(newer, follower)).toBeUndefined();
    expect(checkPeerMessage(app({ from: 3 }), { ...follower, lead: NO_NODE })).toBeUndefined();
    expect(checkPeerMessage(snap(2 ** 40, 7), follower)).toBeUndefined();
  });

  it("refuses no message a correct cluster sends: elections, replication, forwarding, reads, transfer, snapshots", async () => {
    const net = await Net.create([1, 2, 3], { forwardProposals: true, snapshotEveryEntries: 5 });
    const refused: string[] = [];
    const checked = new Set<MessageType>();
    net.filter = (m) => {
      // The receiver's guard runs right after this, on the same state.
      const st = net.status(m.to);
      const local: BasicStatus = {
        id: st.id,
        term: st.term,
        lead: st.leader,
        role: st.role,
        commit: st.commitIndex,
        lastIndex: st.lastIndex,
      };
      const found = checkPeerMessage(m, local);
      checked.add(m.type);
      if (found !== undefined) refused.push(`${m.type} ${m.from}->${m.to}: ${found.detail}`);
      return true;
    };
    const first = await net.electLeader();
    const [a, b] = [1, 2, 3].filter((id) => id !== first) as [number, number];
    for (let i = 0; i < 5; i++) await net.propose(first, `p${i}`);
    const forwarded = track(net.node(a).propose(bytes("forwarded")));
    const read = track(net.node(a).linearizableRead());
    await net.settle();
    expect(read.state).toBe("resolved");
    expect(forwarded.state).toBe("rejected"); // the node does not track what it forwards
    net.crash(b);
    for (let i = 0; i < 5; i++) await net.propose(first, `q${i}`);
    // The log b lacks was compacted into a snapshot: b can only catch up from it.
    expect(net.disk(first).snapshot().metadata.index).toBeGreaterThan(net.disk(b).lastIndex());
    await net.start(b);
    await net.tickAll(3);
    expect(net.status(b).snapshotsInstalled).toBe(1);
    track(net.node(b).transferLeadership(a));
    await net.settle();
    await net.tickAll(2);
    net.isolate(a);
    await net.tickAll(30);
    net.heal();
    await net.tickAll(30);
    expect(net.leader()).toBeDefined();
    expect([...checked].sort()).toEqual(
      Object.values(MessageType)
        .filter((t) => !["hup", "beat", "unreachable", "snapStatus", "checkQuorum"].includes(t))
        .sort(),
    );
    expect(refused).toEqual([]);
    for (const id of [1, 2, 3]) expect(net.rejectedPeerMessages(id)).toBe(0);
  });
});

describe("PeerMessageGuard", () => {
  it("counts every refusal and logs each reason per peer once per interval", () => {
    const lines: Array<Record<string, unknown>> = [];
    const guard = new PeerMessageGuard(1, { warn: (fields) => lines.push(fields) }, 1000, () => 0);
    const lie = message({ type: MessageType.Heartbeat, to: 1, from: 3, term: 2 ** 53 - 2 });
    for (let i = 0; i < 1000; i++) expect(guard.check(lie, follower)?.reason).toBe("term-jump");
    expect(guard.check(app({}), follower)).toBeUndefined();
    expect(guard.rejected).toBe(1000);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ node: 1, peer: 3, reason: "term-jump", localTerm: 7 });
  });
});

describe("following a cluster that moved more than one jump ahead", () => {
  const far = (from: number, term: number) =>
    message({ type: MessageType.Heartbeat, to: 1, from, term });
  const local = { ...follower, lead: NO_NODE };

  it("refuses a far term at first and follows it once the same peer has held it for the wait", () => {
    let nowMs = 0;
    const guard = new PeerMessageGuard(1, undefined, 1000, () => nowMs);
    const term = local.term + MAX_TERM_JUMP + 3;
    expect(guard.check(far(2, term), local)?.reason).toBe("term-jump");
    nowMs = 999;
    expect(guard.check(far(2, term), local)?.reason).toBe("term-jump");
    // Another peer's run is its own.
    expect(guard.check(far(3, term), local)?.reason).toBe("term-jump");
    nowMs = 1000;
    expect(guard.check(far(2, term + 1), local)).toBeUndefined();
    expect(guard.rejected).toBe(3);
  });

  it("never follows a term more than two jumps ahead, and a term within the jump restarts the wait", () => {
    let nowMs = 0;
    const guard = new PeerMessageGuard(1, undefined, 1000, () => nowMs);
    const tooFar = local.term + 2 * MAX_TERM_JUMP + 1;
    for (nowMs = 0; nowMs <= 5000; nowMs += 500) {
      expect(guard.check(far(2, tooFar), local)?.reason).toBe("term-jump");
    }
    const term = local.term + MAX_TERM_JUMP + 1;
    nowMs = 10_000;
    expect(guard.check(far(2, term), local)?.reason).toBe("term-jump");
    nowMs = 10_600;
    expect(guard.check(far(2, local.term), local)).toBeUndefined();
    nowMs = 11_200;
    expect(guard.check(far(2, term), local)?.reason).toBe("term-jump");
  });

  it("allows one large term move per wait, whoever asks, so lies cannot race through the term space", () => {
    let nowMs = 0;
    const guard = new PeerMessageGuard(1, undefined, 1000, () => nowMs);
    let term = local.term;
    const large = () => term + MAX_TERM_JUMP - 1;
    expect(guard.check(far(2, large()), local)).toBeUndefined();
    term = large();
    const moved = { ...local, term };
    nowMs = 500;
    expect(guard.check(far(3, large()), moved)?.reason).toBe("term-jump");
    // Small steps, as real elections make, are never held back.
    expect(guard.check(far(3, term + 2), moved)).toBeUndefined();
    nowMs = 1000;
    expect(guard.check(far(3, large()), moved)).toBeUndefined();
  });
});
