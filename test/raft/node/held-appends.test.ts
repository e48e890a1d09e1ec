import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { type Entry, type Message, MessageType, message } from "../../../src/raft/core/types.js";
import { HeldAppends } from "../../../src/raft/node/held-appends.js";
import { Net } from "../harness.js";

const entry = (index: number): Entry => ({
  index,
  term: 2,
  type: 0,
  data: new Uint8Array([index]),
});
const app = (to: number, commit: number, entries: Entry[] = [], term = 2): Message =>
  message({ type: MessageType.App, from: 1, to, term, index: 5, logTerm: 2, commit, entries });
const beat = (to: number): Message =>
  message({ type: MessageType.Heartbeat, from: 1, to, term: 2, commit: 5 });
const describeSent = (m: Message) =>
  `${m.type}>${m.to} c${m.commit} e${m.entries.length} t${m.term}`;

function held(holdMs = 5) {
  const clock = new ManualClock();
  const sent: string[] = [];
  const outbox = new HeldAppends(holdMs, clock, (ms) => sent.push(...ms.map(describeSent)));
  return { clock, sent, outbox };
}

describe("HeldAppends", () => {
  it("holds an empty append until the hold ends, and sends it then", async () => {
    const { clock, sent, outbox } = held();
    outbox.send([app(2, 6), app(3, 6)]);
    expect(sent).toEqual([]);
    await clock.advance(4);
    expect(sent).toEqual([]);
    await clock.advance(1);
    expect(sent).toEqual(["app>2 c6 e0 t2", "app>3 c6 e0 t2"]);
  });

  it("drops a held append that a later append to the same peer and term makes redundant", async () => {
    const { clock, sent, outbox } = held();
    outbox.send([app(2, 6), app(3, 6)]);
    outbox.send([app(2, 6, [entry(6)])]);
    expect(sent).toEqual(["app>2 c6 e1 t2"]);
    await clock.advance(5);
    expect(sent).toEqual(["app>2 c6 e1 t2", "app>3 c6 e0 t2"]);
  });

  it("keeps only the newest empty append for a peer", async () => {
    const { clock, sent, outbox } = held();
    outbox.send([app(2, 6)]);
    await clock.advance(3);
    outbox.send([app(2, 7)]);
    await clock.advance(2); // the first hold's end: the newest leaves
    expect(sent).toEqual(["app>2 c7 e0 t2"]);
  });

  it("sends the held append first when any other message goes to that peer", async () => {
    const { sent, outbox } = held();
    outbox.send([app(2, 6)]);
    outbox.send([beat(3), beat(2)]);
    expect(sent).toEqual(["heartbeat>3 c5 e0 t2", "app>2 c6 e0 t2", "heartbeat>2 c5 e0 t2"]);
    // An append of another term does not stand in for it either.
    outbox.send([app(3, 6)]);
    outbox.send([app(3, 1, [entry(7)], 3)]);
    expect(sent.slice(3)).toEqual(["app>3 c6 e0 t2", "app>3 c1 e1 t3"]);
  });

  it("with no hold passes everything through at once, in order", () => {
    const { sent, outbox } = held(0);
    outbox.send([app(2, 6), beat(2), app(3, 6, [entry(6)])]);
    expect(sent).toEqual(["app>2 c6 e0 t2", "heartbeat>2 c5 e0 t2", "app>3 c6 e1 t2"]);
  });

  it("flush sends what it holds now; drop forgets it", async () => {
    const { clock, sent, outbox } = held();
    outbox.send([app(2, 6)]);
    outbox.flush();
    expect(sent).toEqual(["app>2 c6 e0 t2"]);
    outbox.send([app(3, 6)]);
    outbox.drop();
    await clock.advance(10);
    expect(sent).toEqual(["app>2 c6 e0 t2"]);
  });
});

describe("a leader holding its empty appends", () => {
  it("tells followers each commit with the next write, and the last one when its hold ends", async () => {
    const net = await Net.create([1, 2, 3], { emptyAppendHoldMs: 5 });
    const leader = await net.electLeader();
    await net.tickAll(2);
    const followers = [1, 2, 3].filter((id) => id !== leader);
    const from = net.delivered.length;
    const writes = Array.from({ length: 10 }, (_, i) => `w${i}`);
    for (const w of writes) expect((await net.propose(leader, w)).outcome.state).toBe("resolved");
    const empty = (m: Message) => m.type === MessageType.App && m.entries.length === 0;
    // Every commit but the last reached the followers with the next write's entries.
    expect(net.delivered.slice(from).filter(empty)).toEqual([]);
    for (const f of followers) expect(net.appliedData(f).slice(-writes.length)).not.toContain("w9");
    for (const f of followers) expect(net.appliedData(f).at(-1)).toBe("w8");
    await net.wait(leader, 4);
    for (const f of followers) expect(net.appliedData(f).at(-1)).toBe("w8");
    await net.wait(leader, 1);
    expect(
      net.delivered
        .slice(from)
        .filter(empty)
        .map((m) => m.to)
        .sort(),
    ).toEqual(followers);
    for (const f of followers) expect(net.appliedData(f).slice(-writes.length)).toEqual(writes);
  });
});
