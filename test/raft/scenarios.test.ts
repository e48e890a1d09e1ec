import { describe, expect, it } from "vitest";
import { NotLeaderError } from "../../src/raft/core/errors.js";
import { MessageType, message, Role } from "../../src/raft/core/types.js";
import { bytes, Net, track } from "./harness.js";

/**
 * The classic Raft scenarios (Raft paper, thesis, and the usual lab list),
 * each driven step by step through a network of real RaftNodes.
 */
describe("raft scenarios", () => {
  it("elects exactly one leader initially, and every node agrees on it", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    expect(net.leaders()).toEqual([leader]);
    for (const id of [1, 2, 3]) expect(net.status(id).leader).toBe(leader);
  });

  it("re-elects after the leader is lost, in a higher term", async () => {
    const net = await Net.create([1, 2, 3]);
    const first = await net.electLeader();
    const term = net.status(first).term;
    net.crash(first);
    const second = await net.electLeader();
    expect(second).not.toBe(first);
    expect(net.status(second).term).toBeGreaterThan(term);
  });

  it("elects no leader when only a minority is up", async () => {
    const net = await Net.create([1, 2, 3, 4, 5]);
    net.crash(3);
    net.crash(4);
    net.crash(5);
    await net.tickAll(300);
    expect(net.leaders()).toEqual([]);
  });

  it("agrees despite a failed follower, and the follower catches up on return", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    net.crash(follower);
    for (let i = 0; i < 5; i++) await net.propose(leader, `v${i}`);
    const other = [1, 2, 3].find((id) => id !== leader && id !== follower)!;
    expect(net.appliedData(other)).toEqual(["v0", "v1", "v2", "v3", "v4"]);
    await net.start(follower);
    await net.tickAll(5);
    expect(net.appliedData(follower)).toEqual(["v0", "v1", "v2", "v3", "v4"]);
  });

  it("commits nothing without a quorum, and commits once the quorum returns", async () => {
    const net = await Net.create([1, 2, 3, 4, 5]);
    const leader = await net.electLeader();
    const others = [1, 2, 3, 4, 5].filter((id) => id !== leader);
    for (const id of others.slice(0, 3)) net.crash(id);
    const before = net.status(leader).commitIndex;
    const pos = await net.propose(leader, "lonely");
    await net.tick(leader, 3);
    expect(net.status(leader).commitIndex).toBe(before);
    expect(net.appliedData(leader)).toEqual([]);
    expect(pos.outcome.state).toBe("pending");
    // CheckQuorum deposes the cut-off leader; restarting the others lets the entry win.
    for (const id of others.slice(0, 3)) await net.start(id);
    const next = await net.electLeader();
    await net.propose(next, "after");
    const applied = net.appliedData(next);
    expect(applied).toContain("after");
    // "lonely" survives only if the new leader had it; either way all nodes agree.
    for (const id of [1, 2, 3, 4, 5]) {
      await net.tickAll(2);
      expect(net.appliedData(id)).toEqual(applied);
    }
    expect(pos.index).toBeGreaterThan(0);
  });

  it("orders concurrent proposals identically on every node", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    const node = net.node(leader);
    const outcomes = Array.from({ length: 50 }, (_, i) => track(node.propose(bytes(`c${i}`))));
    await net.settle();
    const expected = Array.from({ length: 50 }, (_, i) => `c${i}`);
    for (const id of [1, 2, 3]) expect(net.appliedData(id)).toEqual(expected);
    // Each proposal resolves with where it was applied: consecutive indexes, in order.
    const indexes = outcomes.map((o) => o.value?.index);
    expect(indexes).toEqual(indexes.map((_, i) => indexes[0]! + i));
  });

  it("a partitioned stale leader steps down on rejoin and never confirms a stale read", async () => {
    const net = await Net.create([1, 2, 3]);
    const old = await net.electLeader();
    await net.propose(old, "a");
    net.isolate(old);
    const rest = [1, 2, 3].filter((id) => id !== old);
    // The majority elects a new leader and commits a write the old one never sees.
    let fresh: number | undefined;
    for (let i = 0; i < 200 && fresh === undefined; i++) {
      await net.tickEach(rest);
      fresh = rest.find((id) => net.status(id).role === Role.Leader);
    }
    expect(fresh).toBeDefined();
    await net.propose(fresh!, "b");
    // The old leader, still believing it leads, is asked for a linearizable read.
    expect(net.status(old).role).toBe(Role.Leader);
    const read = track(net.node(old).linearizableRead());
    await net.tick(old, 1);
    // It cannot reach a quorum, so the read is never confirmed...
    expect(read.state).toBe("pending");
    net.heal();
    await net.tickAll(3);
    expect(net.status(old).role).toBe(Role.Follower);
    expect(net.status(old).leader).toBe(fresh);
    expect(net.appliedData(old)).toEqual(["a", "b"]);
    // ...and fails once the old leader learns it was deposed.
    expect(read.error).toBeInstanceOf(NotLeaderError);
  });

  it("backs up fast over a long divergent log (one round trip per term, not per entry)", async () => {
    const net = await Net.create([1, 2, 3, 4, 5], { maxSizePerMsgBytes: 1 << 20 });
    const first = await net.electLeader();
    await net.propose(first, "common");
    // The first leader, cut off with one follower, piles up 200 uncommittable entries.
    const buddy = [1, 2, 3, 4, 5].find((id) => id !== first)!;
    const rest = [1, 2, 3, 4, 5].filter((id) => id !== first && id !== buddy);
    for (const a of [first, buddy])
      for (const b of rest) {
        net.cutLink(a, b);
        net.cutLink(b, a);
      }
    for (let i = 0; i < 200; i++) track(net.node(first).propose(bytes(`stale${i}`)));
    await net.settle();
    // The other three elect a leader and commit 200 entries of their own.
    let second: number | undefined;
    for (let i = 0; i < 200 && second === undefined; i++) {
      await net.tickEach(rest);
      second = rest.find((id) => net.status(id).role === Role.Leader);
    }
    expect(second).toBeDefined();
    for (let i = 0; i < 200; i++) track(net.node(second!).propose(bytes(`new${i}`)));
    await net.settle();
    net.heal();
    net.delivered = [];
    await net.tickAll(3);
    const rejections = net.delivered.filter((m) => m.type === MessageType.AppResp && m.reject);
    // Without conflict hints this takes ~200 rejections per divergent follower.
    expect(rejections.length).toBeLessThan(10);
    const expected = ["common", ...Array.from({ length: 200 }, (_, i) => `new${i}`)];
    for (const id of [1, 2, 3, 4, 5]) expect(net.appliedData(id).slice(-201)).toEqual(expected);
  });

  it("keeps every committed entry across a restart of every node", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    for (let i = 0; i < 10; i++) await net.propose(leader, `p${i}`);
    for (const id of [1, 2, 3]) net.crash(id);
    for (const id of [1, 2, 3]) await net.start(id);
    const next = await net.electLeader();
    await net.propose(next, "after");
    const expected = [...Array.from({ length: 10 }, (_, i) => `p${i}`), "after"];
    for (const id of [1, 2, 3]) {
      await net.tickAll(2);
      expect(net.appliedData(id)).toEqual(expected);
    }
  });

  it("Figure 8: a leader does not commit an old-term entry by counting replicas", async () => {
    // (a) S1 leads in term t and gets entry X onto S2 only.
    const net = await Net.create([1, 2, 3, 4, 5], { preVote: false, checkQuorum: false });
    await net.campaign(1);
    expect(net.status(1).role).toBe(Role.Leader);
    for (const to of [3, 4, 5]) net.cutLink(1, to);
    const x = await net.propose(1, "X");
    expect(net.status(2).lastIndex).toBe(x.index);
    // (b) S1 crashes; S5 wins with S3, S4 and appends Y at the same index.
    net.crash(1);
    net.heal();
    net.cutLink(5, 2);
    // S5's votes arrive, but none of its appends (not even its no-op entry).
    net.filter = (m) => !(m.from === 5 && m.type === MessageType.App);
    await net.campaign(5);
    expect(net.status(5).role).toBe(Role.Leader);
    track(net.node(5).propose(bytes("Y")));
    await net.settle();
    // (c) S5 crashes; S1 returns and wins a later term with S2, S3, S4 (their logs
    // end in term t too). It replicates X (and its own no-op) to S3 only, and S2
    // reports holding X: X is on a majority (S1, S2, S3), yet it must not be
    // committed, because no entry of S1's current term is (5.4.2).
    net.crash(5);
    net.heal();
    await net.start(1);
    net.filter = (m) => !(m.from === 1 && m.type === MessageType.App && m.to !== 3);
    for (let i = 0; i < 3 && net.status(1).role !== Role.Leader; i++) await net.campaign(1);
    expect(net.status(1).role).toBe(Role.Leader);
    const term = net.status(1).term;
    expect(net.status(3).lastIndex).toBeGreaterThanOrEqual(x.index);
    net.sendAs(message({ type: MessageType.AppResp, from: 2, to: 1, term, index: x.index }));
    await net.settle();
    const matches = net
      .raftStatus(1)
      .progress.filter((p) => p.match >= x.index)
      .map((p) => p.id);
    expect(matches.sort()).toEqual([1, 2, 3]);
    expect(net.status(1).commitIndex).toBeLessThan(x.index);
    // (d) S1 crashes; S5 can still win (its last term beats S2, S3's) and overwrite X.
    net.crash(1);
    net.heal();
    await net.start(5);
    for (let i = 0; i < 3 && net.status(5).role !== Role.Leader; i++) await net.campaign(5);
    expect(net.status(5).role).toBe(Role.Leader);
    await net.settle();
    for (const id of [2, 3, 4, 5]) expect(net.appliedData(id)).toEqual(["Y"]);
  });

  it("replays exactly from its seed: the same run delivers the same messages in the same order", async () => {
    const run = async (): Promise<string[]> => {
      const net = await Net.create([1, 2, 3, 4, 5], {}, 11);
      const leader = await net.electLeader();
      for (let i = 0; i < 5; i++) await net.propose(leader, `d${i}`);
      net.crash(leader);
      await net.electLeader();
      await net.start(leader);
      await net.tickAll(5);
      return net.delivered.map(
        (m) =>
          `${m.type} ${m.from}>${m.to} t${m.term} i${m.index} c${m.commit} e${m.entries.length}`,
      );
    };
    const first = await run();
    expect(first.length).toBeGreaterThan(50);
    expect(await run()).toEqual(first);
  });

  it("churn: crashing and restarting random nodes never breaks agreement", async () => {
    const net = await Net.create([1, 2, 3, 4, 5], {}, 7);
    let value = 0;
    let rng = 12345;
    const rand = (n: number): number => {
      rng = (rng * 1103515245 + 12345) % 2147483648;
      return rng % n;
    };
    for (let round = 0; round < 60; round++) {
      const id = 1 + rand(5);
      if (!net.isUp(id)) await net.start(id);
      else if (net.upIds().length > 3) net.crash(id);
      await net.tickAll(1 + rand(15));
      const l = net.leader();
      if (l !== undefined) track(net.node(l).propose(bytes(`w${value++}`)));
      await net.settle();
    }
    for (const id of [1, 2, 3, 4, 5]) if (!net.isUp(id)) await net.start(id);
    const leader = await net.electLeader();
    await net.propose(leader, "final");
    await net.tickAll(5);
    const reference = net.appliedData(leader);
    expect(reference[reference.length - 1]).toBe("final");
    for (const id of [1, 2, 3, 4, 5]) expect(net.appliedData(id)).toEqual(reference);
  });
});
