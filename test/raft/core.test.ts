import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/errors.js";
import { bootstrapLog } from "../../src/raft/core/bootstrap.js";
import { ReadOnlyOption } from "../../src/raft/core/config.js";
import {
  ConfChangePendingError,
  InvalidConfChangeError,
  NotLeaderError,
  ProposalDroppedError,
  UncommittedLimitError,
} from "../../src/raft/core/errors.js";
import { Xoshiro128 } from "../../src/raft/core/prng.js";
import { RawNode } from "../../src/raft/core/rawnode.js";
import {
  ConfChangeTransition,
  ConfChangeType,
  MessageType,
  message,
  Role,
} from "../../src/raft/core/types.js";
import { MemoryStorage } from "../../src/raft/storage/memory.js";
import { bytes, Net } from "./harness.js";

const others = (all: number[], id: number): number[] => all.filter((x) => x !== id);

describe("proposals", () => {
  it("a follower refuses with NotLeaderError carrying the leader hint", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    const follower = others([1, 2, 3], leader)[0]!;
    const err = (() => {
      try {
        net.node(follower).propose(bytes("x"));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).leaderHint).toBe(leader);
    expect((err as NotLeaderError).code).toBe("NOT_LEADER");
  });

  it("with forwarding on, a follower's proposal is forwarded and committed", () => {
    const net = new Net([1, 2, 3], { forwardProposals: true });
    const leader = net.electLeader();
    const follower = others([1, 2, 3], leader)[0]!;
    expect(net.node(follower).propose(bytes("fwd"))).toBeUndefined();
    net.settle();
    for (const id of [1, 2, 3]) expect(net.appliedData(id)).toEqual(["fwd"]);
  });

  it("bounds the leader's uncommitted bytes with UncommittedLimitError", () => {
    const net = new Net([1, 2, 3], { maxUncommittedBytes: 100 });
    const leader = net.electLeader();
    net.isolate(leader);
    const raw = net.node(leader);
    raw.propose(new Uint8Array(60));
    expect(() => raw.propose(new Uint8Array(60))).toThrow(UncommittedLimitError);
    // Once the quorum is back and entries commit, the budget frees up.
    net.heal();
    net.tickAll(2);
    if (net.status(leader).role === Role.Leader)
      expect(() => raw.propose(new Uint8Array(60))).not.toThrow();
  });

  it("rejects non-bytes proposal data", () => {
    const net = new Net([1]);
    const leader = net.electLeader();
    expect(() => net.node(leader).propose("text" as unknown as Uint8Array)).toThrow(
      InvalidArgumentError,
    );
  });

  it("refuses local-only message types from the network", () => {
    const net = new Net([1, 2, 3]);
    expect(() => net.node(1).step(message({ type: MessageType.Hup, to: 1, from: 2 }))).toThrow(
      InvalidArgumentError,
    );
  });
});

describe("configuration and bootstrap validation", () => {
  it("rejects nonsense timing and ids", () => {
    const storage = new MemoryStorage();
    const random = new Xoshiro128(1);
    expect(() => new RawNode({ id: 0, storage, random })).toThrow(/id must be a positive integer/);
    expect(
      () => new RawNode({ id: 1, storage, random, electionTicks: 1, heartbeatTicks: 1 }),
    ).toThrow(/electionTicks/);
    expect(
      () =>
        new RawNode({
          id: 1,
          storage,
          random,
          readOnlyOption: ReadOnlyOption.LeaseBased,
          checkQuorum: false,
        }),
    ).toThrow(/require checkQuorum/);
    expect(() => bootstrapLog([])).toThrow(/at least one voter/);
    expect(() => bootstrapLog([1, 1])).toThrow(/listed twice/);
    expect(() => bootstrapLog([1.5])).toThrow(/positive integer/);
  });
});

describe("reads", () => {
  it("batches concurrent ReadIndex requests into one heartbeat round", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    net.propose(leader, "w");
    net.delivered = [];
    const raw = net.node(leader);
    for (let i = 0; i < 20; i++) raw.readIndex(`r${i}`);
    net.settle();
    const heartbeats = net.delivered.filter((m) => m.type === MessageType.Heartbeat);
    expect(heartbeats.length).toBe(2); // one per follower, for all 20 reads
    const states = net.member(leader).readStates;
    expect(states.map((s) => s.context)).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`));
    const commit = net.status(leader).commit;
    for (const s of states) expect(s.index).toBe(commit);
  });

  it("a follower's ReadIndex is confirmed through the leader", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    net.propose(leader, "w");
    const follower = others([1, 2, 3], leader)[0]!;
    net.node(follower).readIndex("f1");
    net.settle();
    expect(net.member(follower).readStates).toEqual([
      { index: net.status(leader).commit, context: "f1" },
    ]);
  });

  it("a read with no known leader fails with NotLeaderError", () => {
    const net = new Net([1, 2, 3]);
    expect(() => net.node(1).readIndex("x")).toThrow(NotLeaderError);
    expect(() => net.node(1).readIndex("")).toThrow(InvalidArgumentError);
  });

  it("lease reads skip the round while the lease holds, and stop once it lapses", () => {
    const net = new Net([1, 2, 3], { readOnlyOption: ReadOnlyOption.LeaseBased });
    const leader = net.electLeader();
    net.propose(leader, "w");
    net.tickAll(1); // a heartbeat round establishes the lease
    net.delivered = [];
    net.node(leader).readIndex("lease1");
    net.settle();
    expect(net.member(leader).readStates.map((s) => s.context)).toEqual(["lease1"]);
    expect(net.delivered.filter((m) => m.type === MessageType.Heartbeat)).toEqual([]);
    // Cut off, the leader's lease runs out well before anyone else could be elected.
    net.isolate(leader);
    net.tick(leader, 9);
    if (net.status(leader).role === Role.Leader) {
      net.node(leader).readIndex("lease2");
      net.settle();
      expect(net.member(leader).readStates.map((s) => s.context)).toEqual(["lease1"]);
    }
  });
});

describe("membership", () => {
  it("refuses a second change while one is pending, and invalid changes", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    net.isolate(leader); // keep the first change from applying
    const raw = net.node(leader);
    raw.proposeConfChange({
      transition: ConfChangeTransition.Auto,
      changes: [{ type: ConfChangeType.AddLearner, nodeId: 4 }],
    });
    expect(() =>
      raw.proposeConfChange({
        transition: ConfChangeTransition.Auto,
        changes: [{ type: ConfChangeType.AddLearner, nodeId: 5 }],
      }),
    ).toThrow(ConfChangePendingError);
    net.heal();
    net.tickAll(2);
    const l = net.electLeader();
    expect(() =>
      net.node(l).proposeConfChange({
        transition: ConfChangeTransition.Auto,
        changes: [
          { type: ConfChangeType.RemoveNode, nodeId: 1 },
          { type: ConfChangeType.RemoveNode, nodeId: 2 },
          { type: ConfChangeType.RemoveNode, nodeId: 3 },
        ],
      }),
    ).toThrow(InvalidConfChangeError);
    expect(() =>
      net.node(l).proposeConfChange({
        transition: "sideways" as ConfChangeTransition,
        changes: [],
      }),
    ).toThrow(/unknown transition/);
    expect(() =>
      net.node(l).proposeConfChange({
        transition: ConfChangeTransition.Auto,
        changes: [{ type: ConfChangeType.AddNode, nodeId: -4 }],
      }),
    ).toThrow(/positive integer/);
  });

  it("a learner receives the log but never votes or campaigns, then is promoted", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    net.addEmpty(4);
    net.change(leader, ConfChangeTransition.Auto, [ConfChangeType.AddLearner, 4]);
    net.propose(leader, "to-learner");
    net.tickAll(2);
    expect(net.appliedData(4)).toEqual(["to-learner"]);
    expect(net.status(4).confState.learners).toEqual([4]);
    net.node(4).campaign();
    net.settle();
    expect(net.status(4).role).toBe(Role.Follower);
    net.change(leader, ConfChangeTransition.Auto, [ConfChangeType.AddNode, 4]);
    expect(net.status(leader).confState.voters).toEqual([1, 2, 3, 4]);
  });

  it("the leader knows how many ticks ago each peer last answered; a silent new peer has none", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    const [quiet, live] = others([1, 2, 3], leader) as [number, number];
    net.change(leader, ConfChangeTransition.Auto, [ConfChangeType.AddLearner, 4]);
    net.tick(leader, 1);
    net.isolate(quiet);
    net.tick(leader, 3);
    const heard = new Map(net.status(leader).progress.map((p) => [p.id, p.ticksSinceHeard]));
    expect(heard.get(leader)).toBe(0);
    expect(heard.get(live)).toBe(0);
    expect(heard.get(quiet)).toBe(3);
    // Node 4 was never started: it counts as recently active for CheckQuorum, but was never heard.
    expect(heard.get(4)).toBeUndefined();
    net.heal();
    net.tick(leader, 1);
    expect(net.status(leader).progress.find((p) => p.id === quiet)?.ticksSinceHeard).toBe(0);
  });

  it("joint consensus replaces the leader: it steps down and the new config elects a leader", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    net.addEmpty(4);
    net.change(leader, ConfChangeTransition.Auto, [ConfChangeType.AddLearner, 4]);
    net.tickAll(1);
    net.change(
      leader,
      ConfChangeTransition.JointImplicit,
      [ConfChangeType.AddNode, 4],
      [ConfChangeType.RemoveNode, leader],
    );
    net.tickAll(2);
    // The joint config was entered and left automatically.
    const remaining = [1, 2, 3, 4].filter((id) => id !== leader);
    expect(net.status(remaining[0]!).confState.votersOutgoing).toEqual([]);
    expect(net.status(remaining[0]!).confState.voters).toEqual(remaining);
    expect(net.status(leader).role).not.toBe(Role.Leader);
    const next = net.electLeader();
    expect(remaining).toContain(next);
    net.propose(next, "after-replace");
    for (const id of remaining) expect(net.appliedData(id)).toContain("after-replace");
  });

  it("an explicit joint config stays joint until it is left by an empty change", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    net.addEmpty(4);
    net.change(leader, ConfChangeTransition.JointExplicit, [ConfChangeType.AddNode, 4]);
    net.tickAll(2);
    expect(net.status(leader).confState.votersOutgoing).toEqual([1, 2, 3]);
    net.node(leader).proposeConfChange({ transition: ConfChangeTransition.Auto, changes: [] });
    net.settle();
    net.tickAll(1);
    expect(net.status(leader).confState.votersOutgoing).toEqual([]);
    expect(net.status(leader).confState.voters).toEqual([1, 2, 3, 4]);
  });
});

describe("leadership transfer", () => {
  it("catches up a lagging follower, then hands leadership to it", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    const target = others([1, 2, 3], leader)[0]!;
    net.cutLink(leader, target);
    for (let i = 0; i < 10; i++) net.propose(leader, `e${i}`);
    expect(net.status(target).lastIndex).toBeLessThan(net.status(leader).lastIndex);
    net.heal();
    net.node(leader).transferLeadership(target);
    net.settle();
    net.tickAll(1);
    expect(net.status(target).role).toBe(Role.Leader);
    expect(net.appliedData(target)).toHaveLength(10);
  });

  it("a transfer requested at a follower is forwarded and moves leadership to the named node", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    const [asked, target] = others([1, 2, 3], leader) as [number, number];
    net.node(asked).transferLeadership(target);
    net.settle();
    net.tickAll(1);
    expect(net.status(target).role).toBe(Role.Leader);
    expect(net.status(asked).role).toBe(Role.Follower);
  });

  it("refuses proposals during a transfer and aborts it after an election timeout", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    const target = others([1, 2, 3], leader)[0]!;
    net.crash(target);
    net.node(leader).transferLeadership(target);
    net.settle();
    expect(net.status(leader).leadTransferee).toBe(target);
    expect(() => net.node(leader).propose(bytes("blocked"))).toThrow(ProposalDroppedError);
    net.tick(leader, 10);
    expect(net.status(leader).leadTransferee).toBe(0);
    expect(net.status(leader).role).toBe(Role.Leader);
    expect(() => net.node(leader).propose(bytes("ok"))).not.toThrow();
  });
});

describe("pre-vote and check-quorum", () => {
  it("a node returning from a partition does not disrupt a healthy leader", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    const term = net.status(leader).term;
    const loner = others([1, 2, 3], leader)[0]!;
    net.isolate(loner);
    net.tickAll(100); // the loner times out again and again, but only pre-votes
    expect(net.status(loner).term).toBe(term);
    net.heal();
    net.tickAll(5);
    expect(net.status(leader).role).toBe(Role.Leader);
    expect(net.status(leader).term).toBe(term);
    expect(net.status(loner).lead).toBe(leader);
  });

  it("a leader cut off from its quorum steps down within two election timeouts", () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    net.isolate(leader);
    net.tick(leader, 20);
    expect(net.status(leader).role).toBe(Role.Follower);
  });
});

describe("snapshots", () => {
  it("a follower behind the leader's compacted log catches up through a snapshot", async () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    const lagging = others([1, 2, 3], leader)[0]!;
    net.crash(lagging);
    for (let i = 0; i < 20; i++) net.propose(leader, `s${i}`);
    const st = net.status(leader);
    const disk = net.member(leader).disk;
    await disk.createSnapshot(st.applied, st.confState, bytes("state-at-applied"));
    expect(disk.firstIndex()).toBe(st.applied + 1);
    net.start(lagging);
    net.tickAll(3);
    const ldisk = net.member(lagging).disk;
    expect(ldisk.snapshot().metadata.index).toBe(st.applied);
    expect(new TextDecoder().decode(ldisk.snapshot().data)).toBe("state-at-applied");
    net.propose(leader, "after-snapshot");
    expect(net.appliedData(lagging)).toEqual(["after-snapshot"]);
  });

  it("a crash while installing a snapshot leaves a node that installs it again", async () => {
    const net = new Net([1, 2, 3]);
    const leader = net.electLeader();
    const lagging = others([1, 2, 3], leader)[0]!;
    net.crash(lagging);
    for (let i = 0; i < 5; i++) net.propose(leader, `s${i}`);
    const st = net.status(leader);
    await net.member(leader).disk.createSnapshot(st.applied, st.confState, bytes("snap"));
    net.start(lagging);
    // Deliver the snapshot, then crash before the node processes its Ready.
    net.filter = (m) => {
      if (m.type === MessageType.Snap && m.to === lagging) {
        net.node(lagging).step(m);
        net.crash(lagging);
        return false;
      }
      return true;
    };
    net.tickAll(2);
    expect(net.member(lagging).disk.snapshot().metadata.index).toBe(0);
    net.heal();
    net.start(lagging);
    net.tickAll(3);
    expect(net.member(lagging).disk.snapshot().metadata.index).toBe(st.applied);
    net.propose(leader, "after");
    expect(net.appliedData(lagging)).toEqual(["after"]);
  });
});
