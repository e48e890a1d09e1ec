import { describe, expect, it } from "vitest";
import { MessageType, message, Role } from "../../src/raft/core/types.js";
import { Net } from "./harness.js";

/**
 * The classic Raft scenarios (Raft paper, thesis, and the usual lab list),
 * each driven exactly through a synchronous network of real cores.
 */
describe("raft scenarios", () => {
  it("elects exactly one leader initially, and every node agrees on it", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    expect(net.leaders()).toEqual([leader]);
    for (const id of [1, 2, 3]) expect(net.status(id).lead).toBe(leader);
  });

  it("re-elects after the leader is lost, in a higher term", () => {
    const net = new Net([1, 2, 3]);
    const first = net.electLeader();
    const term = net.status(first).term;
    net.crash(first);
    const second = net.electLeader();
    expect(second).not.toBe(first);
    expect(net.status(second).term).toBeGreaterThan(term);
  });

  it("elects no leader when only a minority is up", () => {
    const net = new Net([1, 2, 3, 4, 5]);
    net.crash(3);
    net.crash(4);
    net.crash(5);
    net.tickAll(300);
    expect(net.leaders()).toEqual([]);
  });

  it("agrees despite a failed follower, and the follower catches up on return", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    net.crash(follower);
    for (let i = 0; i < 5; i++) net.propose(leader, `v${i}`);
    const other = [1, 2, 3].find((id) => id !== leader && id !== follower)!;
    expect(net.appliedData(other)).toEqual(["v0", "v1", "v2", "v3", "v4"]);
    net.start(follower);
    net.tickAll(5);
    expect(net.appliedData(follower)).toEqual(["v0", "v1", "v2", "v3", "v4"]);
  });

  it("commits nothing without a quorum, and commits once the quorum returns", () => {
    const net = new Net([1, 2, 3, 4, 5]);
    const leader = net.electLeader();
    const others = [1, 2, 3, 4, 5].filter((id) => id !== leader);
    for (const id of others.slice(0, 3)) net.crash(id);
    const before = net.status(leader).commit;
    const pos = net.propose(leader, "lonely");
    net.tick(leader, 3);
    expect(net.status(leader).commit).toBe(before);
    expect(net.appliedData(leader)).toEqual([]);
    // CheckQuorum deposes the cut-off leader; restarting the others lets the entry win.
    for (const id of others.slice(0, 3)) net.start(id);
    const next = net.electLeader();
    net.propose(next, "after");
    const applied = net.appliedData(next);
    expect(applied).toContain("after");
    // "lonely" survives only if the new leader had it; either way all nodes agree.
    for (const id of [1, 2, 3, 4, 5]) {
      net.tickAll(2);
      expect(net.appliedData(id)).toEqual(applied);
    }
    expect(pos.index).toBeGreaterThan(0);
  });

  it("orders concurrent proposals identically on every node", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    const raw = net.node(leader);
    for (let i = 0; i < 50; i++) raw.propose(new TextEncoder().encode(`c${i}`));
    net.settle();
    const expected = Array.from({ length: 50 }, (_, i) => `c${i}`);
    for (const id of [1, 2, 3]) expect(net.appliedData(id)).toEqual(expected);
  });

  it("a partitioned stale leader steps down on rejoin and never confirms a stale read", () => {
    const net = new Net([1, 2, 3]);
    const old = net.electLeader();
    net.propose(old, "a");
    net.isolate(old);
    const rest = [1, 2, 3].filter((id) => id !== old);
    // The majority elects a new leader and commits a write the old one never sees.
    let fresh: number | undefined;
    for (let i = 0; i < 200 && fresh === undefined; i++) {
      for (const id of rest) net.node(id).tick();
      net.settle();
      fresh = rest.find((id) => net.status(id).role === Role.Leader);
    }
    expect(fresh).toBeDefined();
    net.propose(fresh!, "b");
    // The old leader, still believing it leads, is asked for a linearizable read.
    if (net.status(old).role === Role.Leader) {
      net.node(old).readIndex("stale?");
      net.tick(old, 1);
      // It cannot reach a quorum, so the read is never confirmed.
      expect(net.member(old).readStates).toEqual([]);
    }
    net.heal();
    net.tickAll(3);
    expect(net.status(old).role).toBe(Role.Follower);
    expect(net.status(old).lead).toBe(fresh);
    expect(net.appliedData(old)).toEqual(["a", "b"]);
  });

  it("backs up fast over a long divergent log (one round trip per term, not per entry)", () => {
    const net = new Net([1, 2, 3, 4, 5], { maxSizePerMsgBytes: 1 << 20 });
    const first = net.electLeader();
    net.propose(first, "common");
    // The first leader, cut off with one follower, piles up 200 uncommittable entries.
    const buddy = [1, 2, 3, 4, 5].find((id) => id !== first)!;
    const rest = [1, 2, 3, 4, 5].filter((id) => id !== first && id !== buddy);
    for (const a of [first, buddy])
      for (const b of rest) {
        net.cutLink(a, b);
        net.cutLink(b, a);
      }
    for (let i = 0; i < 200; i++) net.node(first).propose(new TextEncoder().encode(`stale${i}`));
    net.settle();
    // The other three elect a leader and commit 200 entries of their own.
    let second: number | undefined;
    for (let i = 0; i < 200 && second === undefined; i++) {
      for (const id of rest) net.node(id).tick();
      net.settle();
      second = rest.find((id) => net.status(id).role === Role.Leader);
    }
    expect(second).toBeDefined();
    for (let i = 0; i < 200; i++) net.node(second!).propose(new TextEncoder().encode(`new${i}`));
    net.settle();
    net.heal();
    net.delivered = [];
    net.tickAll(3);
    const rejections = net.delivered.filter((m) => m.type === MessageType.AppResp && m.reject);
    // Without conflict hints this takes ~200 rejections per divergent follower.
    expect(rejections.length).toBeLessThan(10);
    const expected = ["common", ...Array.from({ length: 200 }, (_, i) => `new${i}`)];
    for (const id of [1, 2, 3, 4, 5]) expect(net.appliedData(id).slice(-201)).toEqual(expected);
  });

  it("keeps every committed entry across a restart of every node", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    for (let i = 0; i < 10; i++) net.propose(leader, `p${i}`);
    for (const id of [1, 2, 3]) net.crash(id);
    for (const id of [1, 2, 3]) net.start(id);
    const next = net.electLeader();
    net.propose(next, "after");
    const expected = [...Array.from({ length: 10 }, (_, i) => `p${i}`), "after"];
    for (const id of [1, 2, 3]) {
      net.tickAll(2);
      expect(net.appliedData(id)).toEqual(expected);
    }
  });

  it("Figure 8: a leader does not commit an old-term entry by counting replicas", () => {
    // (a) S1 leads in term t and gets entry X onto S2 only.
    const net = new Net([1, 2, 3, 4, 5], { preVote: false, checkQuorum: false });
    net.campaign(1);
    expect(net.status(1).role).toBe(Role.Leader);
    for (const to of [3, 4, 5]) net.cutLink(1, to);
    const x = net.propose(1, "X");
    expect(net.status(2).lastIndex).toBe(x.index);
    // (b) S1 crashes; S5 wins with S3, S4 and appends Y at the same index.
    net.crash(1);
    net.heal();
    net.cutLink(5, 2);
    // S5's votes arrive, but none of its appends (not even its no-op entry).
    net.filter = (m) => !(m.from === 5 && m.type === MessageType.App);
    net.campaign(5);
    expect(net.status(5).role).toBe(Role.Leader);
    net.node(5).propose(new TextEncoder().encode("Y"));
    net.settle();
    // (c) S5 crashes; S1 returns and wins a later term with S2, S3, S4 (their logs
    // end in term t too). It replicates X (and its own no-op) to S3 only, and S2
    // reports holding X: X is on a majority (S1, S2, S3), yet it must not be
    // committed, because no entry of S1's current term is (5.4.2).
    net.crash(5);
    net.heal();
    net.start(1);
    net.filter = (m) => !(m.from === 1 && m.type === MessageType.App && m.to !== 3);
    for (let i = 0; i < 3 && net.status(1).role !== Role.Leader; i++) net.campaign(1);
    expect(net.status(1).role).toBe(Role.Leader);
    const term = net.status(1).term;
    expect(net.status(3).lastIndex).toBeGreaterThanOrEqual(x.index);
    net.node(1).step(message({ type: MessageType.AppResp, from: 2, to: 1, term, index: x.index }));
    net.settle();
    const matches = net
      .status(1)
      .progress.filter((p) => p.match >= x.index)
      .map((p) => p.id);
    expect(matches.sort()).toEqual([1, 2, 3]);
    expect(net.status(1).commit).toBeLessThan(x.index);
    // (d) S1 crashes; S5 can still win (its last term beats S2, S3's) and overwrite X.
    net.crash(1);
    net.heal();
    net.start(5);
    for (let i = 0; i < 3 && net.status(5).role !== Role.Leader; i++) net.campaign(5);
    expect(net.status(5).role).toBe(Role.Leader);
    net.settle();
    for (const id of [2, 3, 4, 5]) expect(net.appliedData(id)).toEqual(["Y"]);
  });

  it("churn: crashing and restarting random nodes never breaks agreement", () => {
    const net = new Net([1, 2, 3, 4, 5], {}, 7);
    let value = 0;
    let rng = 12345;
    const rand = (n: number): number => {
      rng = (rng * 1103515245 + 12345) % 2147483648;
      return rng % n;
    };
    for (let round = 0; round < 60; round++) {
      const id = 1 + rand(5);
      if (net.member(id).raw === undefined) net.start(id);
      else if ([...net.members.values()].filter((m) => m.raw).length > 3) net.crash(id);
      net.tickAll(1 + rand(15));
      const l = net.leader();
      if (l !== undefined) net.node(l).propose(new TextEncoder().encode(`w${value++}`));
      net.settle();
    }
    for (const id of [1, 2, 3, 4, 5]) if (net.member(id).raw === undefined) net.start(id);
    const leader = net.electLeader();
    net.propose(leader, "final");
    net.tickAll(5);
    const reference = net.appliedData(leader);
    expect(reference[reference.length - 1]).toBe("final");
    for (const id of [1, 2, 3, 4, 5]) expect(net.appliedData(id)).toEqual(reference);
  });
});
