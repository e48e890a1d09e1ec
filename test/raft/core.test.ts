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
  type Message,
  MessageType,
  message,
  type NodeId,
  Role,
} from "../../src/raft/core/types.js";
import { NodeFailedError } from "../../src/raft/node/errors.js";
import { MemoryStorage } from "../../src/raft/storage/memory.js";
import { InvalidMessageError } from "../../src/raft/transport/errors.js";
import { bytes, Net, text, track } from "./harness.js";

const others = (all: number[], id: number): number[] => all.filter((x) => x !== id);

describe("proposals", () => {
  it("a follower refuses with NotLeaderError carrying the leader hint", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    const follower = others([1, 2, 3], leader)[0]!;
    const err: unknown = await net
      .node(follower)
      .propose(bytes("x"))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).leaderHint).toBe(leader);
    expect((err as NotLeaderError).code).toBe("NOT_LEADER");
  });

  it("with forwarding on, a follower's proposal is forwarded and committed", async () => {
    const net = await Net.create([1, 2, 3], { forwardProposals: true });
    const leader = await net.electLeader();
    const follower = others([1, 2, 3], leader)[0]!;
    const forwarded = track(net.node(follower).propose(bytes("fwd")));
    await net.settle();
    // The node forwards it but cannot track a proposal it did not append itself.
    expect(forwarded.error).toBeInstanceOf(NodeFailedError);
    expect((forwarded.error as Error).message).toMatch(/forwarded/);
    for (const id of [1, 2, 3]) expect(net.appliedData(id)).toEqual(["fwd"]);
  });

  it("bounds the leader's uncommitted bytes with UncommittedLimitError", async () => {
    const net = await Net.create([1, 2, 3], { maxUncommittedBytes: 100 });
    const leader = await net.electLeader();
    net.isolate(leader);
    const node = net.node(leader);
    const first = track(node.propose(new Uint8Array(60)));
    await expect(node.propose(new Uint8Array(60))).rejects.toThrow(UncommittedLimitError);
    // Once the quorum is back and entries commit, the budget frees up.
    net.heal();
    await net.tickAll(2);
    expect(first.state).toBe("resolved");
    expect(net.status(leader).role).toBe(Role.Leader);
    const again = track(node.propose(new Uint8Array(60)));
    await net.settle();
    expect(again.state).toBe("resolved");
  });

  it("rejects non-bytes proposal data", async () => {
    const net = await Net.create([1]);
    const leader = await net.electLeader();
    await expect(net.node(leader).propose("text" as unknown as Uint8Array)).rejects.toThrow(
      InvalidArgumentError,
    );
  });

  it("refuses local-only message types from the network", async () => {
    const net = await Net.create([1, 2, 3]);
    const before = net.status(1);
    expect(() => net.sendAs(message({ type: MessageType.Hup, to: 1, from: 2 }))).toThrow(
      InvalidMessageError,
    );
    await net.settle();
    expect(net.status(1)).toMatchObject({ role: Role.Follower, term: before.term });
    // The core refuses them too, should anything hand it one.
    const raw = new RawNode({ id: 1, storage: new MemoryStorage(), random: new Xoshiro128(1) });
    expect(() => raw.step(message({ type: MessageType.Hup, to: 1, from: 2 }))).toThrow(
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
  it("batches concurrent linearizable reads into one heartbeat round", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    await net.propose(leader, "w");
    net.delivered = [];
    const node = net.node(leader);
    const reads = Array.from({ length: 20 }, () => track(node.linearizableRead()));
    await net.settle();
    const heartbeats = net.delivered.filter((m) => m.type === MessageType.Heartbeat);
    expect(heartbeats.length).toBe(2); // one per follower, for all 20 reads
    expect(reads.map((r) => r.state)).toEqual(reads.map(() => "resolved"));
    const st = net.status(leader);
    expect(st.appliedIndex).toBe(st.commitIndex);
  });

  it("a follower's read is confirmed through the leader", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    await net.propose(leader, "w");
    const follower = others([1, 2, 3], leader)[0]!;
    net.delivered = [];
    const read = track(net.node(follower).linearizableRead());
    await net.settle();
    expect(read.state).toBe("resolved");
    expect(net.delivered.map((m) => [m.type, m.from, m.to])).toContainEqual([
      MessageType.ReadIndexResp,
      leader,
      follower,
    ]);
    expect(net.status(follower).appliedIndex).toBe(net.status(leader).commitIndex);
  });

  it("a read with no known leader fails with NotLeaderError", async () => {
    const net = await Net.create([1, 2, 3]);
    await expect(net.node(1).linearizableRead()).rejects.toThrow(NotLeaderError);
    // The core refuses a read without a context to match its answer by.
    const raw = new RawNode({ id: 1, storage: new MemoryStorage(), random: new Xoshiro128(1) });
    expect(() => raw.readIndex("")).toThrow(InvalidArgumentError);
  });

  it("lease reads skip the round while the lease holds, and stop once it lapses", async () => {
    const net = await Net.create([1, 2, 3], { readOnlyOption: ReadOnlyOption.LeaseBased });
    const leader = await net.electLeader();
    await net.propose(leader, "w");
    await net.tickAll(1); // a heartbeat round establishes the lease
    net.delivered = [];
    const lease1 = track(net.node(leader).linearizableRead());
    await net.settle();
    expect(lease1.state).toBe("resolved");
    expect(net.delivered.filter((m) => m.type === MessageType.Heartbeat)).toEqual([]);
    // Cut off, the leader's lease runs out well before anyone else could be elected.
    net.isolate(leader);
    await net.tick(leader, 9);
    expect(net.status(leader).role).toBe(Role.Leader);
    const lease2 = track(net.node(leader).linearizableRead());
    await net.settle();
    expect(lease2.state).toBe("pending");
  });
});

describe("membership", () => {
  it("refuses a second change while one is pending, and invalid changes", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    net.isolate(leader); // keep the first change from applying
    const node = net.node(leader);
    const first = track(
      node.changeMembership({
        transition: ConfChangeTransition.Auto,
        changes: [{ type: ConfChangeType.AddLearner, nodeId: 4 }],
      }),
    );
    await expect(
      node.changeMembership({
        transition: ConfChangeTransition.Auto,
        changes: [{ type: ConfChangeType.AddLearner, nodeId: 5 }],
      }),
    ).rejects.toThrow(ConfChangePendingError);
    net.heal();
    await net.tickAll(2);
    expect(first.state).toBe("resolved");
    const l = net.node(await net.electLeader());
    await expect(
      l.changeMembership({
        transition: ConfChangeTransition.Auto,
        changes: [
          { type: ConfChangeType.RemoveNode, nodeId: 1 },
          { type: ConfChangeType.RemoveNode, nodeId: 2 },
          { type: ConfChangeType.RemoveNode, nodeId: 3 },
        ],
      }),
    ).rejects.toThrow(InvalidConfChangeError);
    await expect(
      l.changeMembership({ transition: "sideways" as ConfChangeTransition, changes: [] }),
    ).rejects.toThrow(/unknown transition/);
    await expect(
      l.changeMembership({
        transition: ConfChangeTransition.Auto,
        changes: [{ type: ConfChangeType.AddNode, nodeId: -4 }],
      }),
    ).rejects.toThrow(/positive integer/);
  });

  it("a learner receives the log but never votes or campaigns, then is promoted", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    await net.addEmpty(4);
    await net.change(leader, ConfChangeTransition.Auto, [ConfChangeType.AddLearner, 4]);
    await net.propose(leader, "to-learner");
    await net.tickAll(2);
    expect(net.appliedData(4)).toEqual(["to-learner"]);
    expect(net.status(4).confState.learners).toEqual([4]);
    await net.campaign(4);
    expect(net.status(4).role).toBe(Role.Follower);
    await net.change(leader, ConfChangeTransition.Auto, [ConfChangeType.AddNode, 4]);
    expect(net.status(leader).confState.voters).toEqual([1, 2, 3, 4]);
  });

  it("the leader knows how many ticks ago each peer last answered; a silent new peer has none", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    const [quiet, live] = others([1, 2, 3], leader) as [number, number];
    await net.change(leader, ConfChangeTransition.Auto, [ConfChangeType.AddLearner, 4]);
    await net.tick(leader, 1);
    net.isolate(quiet);
    await net.tick(leader, 3);
    const heard = new Map(net.raftStatus(leader).progress.map((p) => [p.id, p.ticksSinceHeard]));
    expect(heard.get(leader)).toBe(0);
    expect(heard.get(live)).toBe(0);
    expect(heard.get(quiet)).toBe(3);
    // Node 4 was never started: it counts as recently active for CheckQuorum, but was never heard.
    expect(heard.get(4)).toBeUndefined();
    // The node's summary says the same: connected means heard within an election timeout.
    const connected = new Map(net.status(leader).peers.map((p) => [p.id, p.connected]));
    expect(connected).toEqual(
      new Map([
        [live, true],
        [quiet, true],
        [4, false],
      ]),
    );
    net.heal();
    await net.tick(leader, 1);
    expect(net.raftStatus(leader).progress.find((p) => p.id === quiet)?.ticksSinceHeard).toBe(0);
  });

  it("joint consensus replaces the leader: it steps down and the new config elects a leader", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    await net.addEmpty(4);
    await net.change(leader, ConfChangeTransition.Auto, [ConfChangeType.AddLearner, 4]);
    await net.tickAll(1);
    await net.change(
      leader,
      ConfChangeTransition.JointImplicit,
      [ConfChangeType.AddNode, 4],
      [ConfChangeType.RemoveNode, leader],
    );
    await net.tickAll(2);
    // The joint config was entered and left automatically.
    const remaining = [1, 2, 3, 4].filter((id) => id !== leader);
    expect(net.status(remaining[0]!).confState.votersOutgoing).toEqual([]);
    expect(net.status(remaining[0]!).confState.voters).toEqual(remaining);
    expect(net.status(leader).role).not.toBe(Role.Leader);
    const next = await net.electLeader();
    expect(remaining).toContain(next);
    await net.propose(next, "after-replace");
    for (const id of remaining) expect(net.appliedData(id)).toContain("after-replace");
  });

  it("an explicit joint config stays joint until it is left by an empty change", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    await net.addEmpty(4);
    await net.change(leader, ConfChangeTransition.JointExplicit, [ConfChangeType.AddNode, 4]);
    await net.tickAll(2);
    expect(net.status(leader).confState.votersOutgoing).toEqual([1, 2, 3]);
    const leave = track(
      net.node(leader).changeMembership({ transition: ConfChangeTransition.Auto, changes: [] }),
    );
    await net.settle();
    await net.tickAll(1);
    expect(leave.state).toBe("resolved");
    expect(net.status(leader).confState.votersOutgoing).toEqual([]);
    expect(net.status(leader).confState.voters).toEqual([1, 2, 3, 4]);
  });
});

describe("leadership transfer", () => {
  it("catches up a lagging follower, then hands leadership to it", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    const target = others([1, 2, 3], leader)[0]!;
    net.cutLink(leader, target);
    for (let i = 0; i < 10; i++) await net.propose(leader, `e${i}`);
    expect(net.status(target).lastIndex).toBeLessThan(net.status(leader).lastIndex);
    net.heal();
    const transfer = track(net.node(leader).transferLeadership(target));
    await net.settle();
    await net.tickAll(1);
    expect(net.status(target).role).toBe(Role.Leader);
    expect(net.appliedData(target)).toHaveLength(10);
    // The old leader's call resolves at its next look, once it follows the target.
    await net.tick(leader, 1);
    expect(transfer.state).toBe("resolved");
  });

  it("a transfer requested at a follower is forwarded and moves leadership to the named node", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    const [asked, target] = others([1, 2, 3], leader) as [number, number];
    track(net.node(asked).transferLeadership(target));
    await net.settle();
    await net.tickAll(1);
    expect(net.status(target).role).toBe(Role.Leader);
    expect(net.status(asked).role).toBe(Role.Follower);
  });

  it("refuses proposals during a transfer and aborts it after an election timeout", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    const target = others([1, 2, 3], leader)[0]!;
    net.crash(target);
    const transfer = track(net.node(leader).transferLeadership(target));
    await net.settle();
    expect(net.raftStatus(leader).leadTransferee).toBe(target);
    await expect(net.node(leader).propose(bytes("blocked"))).rejects.toThrow(ProposalDroppedError);
    await net.tick(leader, 10);
    expect(net.raftStatus(leader).leadTransferee).toBe(0);
    expect(net.status(leader).role).toBe(Role.Leader);
    const ok = await net.propose(leader, "ok");
    expect(ok.outcome.state).toBe("resolved");
    expect(transfer.state).toBe("pending");
  });
});

describe("pre-vote and check-quorum", () => {
  it("a node returning from a partition does not disrupt a healthy leader", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    const term = net.status(leader).term;
    const loner = others([1, 2, 3], leader)[0]!;
    net.isolate(loner);
    await net.tickAll(100); // the loner times out again and again, but only pre-votes
    expect(net.status(loner).term).toBe(term);
    net.heal();
    await net.tickAll(5);
    expect(net.status(leader).role).toBe(Role.Leader);
    expect(net.status(leader).term).toBe(term);
    expect(net.status(loner).leader).toBe(leader);
  });

  it("a leader cut off from its quorum steps down within two election timeouts", async () => {
    const net = await Net.create([1, 2, 3]);
    const leader = await net.electLeader();
    net.isolate(leader);
    await net.tick(leader, 20);
    expect(net.status(leader).role).toBe(Role.Follower);
  });
});

describe("snapshots", () => {
  it("a follower behind the leader's compacted log catches up through a snapshot", async () => {
    const net = await Net.create([1, 2, 3], { snapshotEveryEntries: 10 });
    const leader = await net.electLeader();
    const lagging = others([1, 2, 3], leader)[0]!;
    net.crash(lagging);
    for (let i = 0; i < 20; i++) await net.propose(leader, `s${i}`);
    const disk = net.disk(leader);
    const snap = disk.snapshot();
    expect(disk.firstIndex()).toBe(snap.metadata.index + 1);
    // The log the lagging node lacks is gone from the leader: only a snapshot can help.
    expect(snap.metadata.index).toBeGreaterThan(net.disk(lagging).lastIndex());
    await net.start(lagging);
    await net.tickAll(3);
    const ldisk = net.disk(lagging);
    expect(ldisk.snapshot().metadata.index).toBe(snap.metadata.index);
    expect(text(ldisk.snapshot().data)).toBe(text(snap.data));
    expect(net.status(lagging).snapshotsInstalled).toBe(1);
    await net.propose(leader, "after-snapshot");
    const expected = [...Array.from({ length: 20 }, (_, i) => `s${i}`), "after-snapshot"];
    expect(net.appliedData(lagging)).toEqual(expected);
  });

  it("a crash while a snapshot arrives leaves a node that installs it again", async () => {
    const net = await Net.create([1, 2, 3], { snapshotEveryEntries: 5 });
    const leader = await net.electLeader();
    const lagging = others([1, 2, 3], leader)[0]!;
    net.crash(lagging);
    for (let i = 0; i < 5; i++) await net.propose(leader, `s${i}`);
    const snapIndex = net.disk(leader).snapshot().metadata.index;
    expect(snapIndex).toBeGreaterThan(net.disk(lagging).lastIndex());
    await net.start(lagging);
    // The snapshot reaches the node, which crashes before it is installed.
    net.filter = (m) => {
      if (m.type === MessageType.Snap && m.to === lagging) {
        net.crash(lagging);
        return false;
      }
      return true;
    };
    await net.tickAll(2);
    expect(net.isUp(lagging)).toBe(false);
    expect(net.disk(lagging).snapshot().metadata.index).toBe(0);
    net.heal();
    await net.start(lagging);
    await net.tickAll(3);
    expect(net.disk(lagging).snapshot().metadata.index).toBe(snapIndex);
    await net.propose(leader, "after");
    expect(net.appliedData(lagging)).toEqual(["s0", "s1", "s2", "s3", "s4", "after"]);
  });
});

describe("noVotesWhenEmpty", () => {
  // A replica created empty again under an id a stale leader still counts
  // as a voter must not give that leader its vote.
  const askVotes = async (net: Net, from: NodeId, to: NodeId): Promise<Message[]> => {
    net.delivered = [];
    for (const type of [MessageType.PreVote, MessageType.Vote]) {
      net.sendAs(message({ type, to, from, term: 50, index: 1000, logTerm: 50 }));
    }
    await net.settle();
    return net.delivered.filter((m) => m.from === to && m.to === from);
  };

  for (const noVotesWhenEmpty of [false, true]) {
    it(`${noVotesWhenEmpty ? "ignores a vote request" : "grants a vote"} while its log is empty`, async () => {
      const net = await Net.create([1, 2, 3], { noVotesWhenEmpty });
      const leader = await net.electLeader();
      await net.addEmpty(4);
      // The members know 4 (a learner), but 4 has heard nothing: its log is empty.
      net.filter = (m) => m.to !== 4;
      await net.change(leader, ConfChangeTransition.Auto, [ConfChangeType.AddLearner, 4]);
      await net.tickAll(15);
      net.filter = () => true;
      const asker = others([1, 2, 3], leader)[0]!;
      net.delivered = [];
      net.sendAs(
        message({ type: MessageType.Vote, to: 4, from: asker, term: 50, index: 1000, logTerm: 50 }),
      );
      await net.settle();
      const answers = net.delivered.filter((m) => m.from === 4 && m.to === asker);
      expect(net.status(4).lastIndex).toBe(0);
      if (noVotesWhenEmpty) expect(answers).toEqual([]);
      else expect(answers.map((m) => [m.type, m.reject])).toEqual([[MessageType.VoteResp, false]]);
    });
  }

  it("once it holds the log, it votes by the up-to-date rule", async () => {
    const net = await Net.create([1, 2, 3], { noVotesWhenEmpty: true });
    const leader = await net.electLeader();
    await net.addEmpty(4);
    await net.change(leader, ConfChangeTransition.Auto, [ConfChangeType.AddLearner, 4]);
    await net.tickAll(2);
    expect(net.status(4).lastIndex).toBeGreaterThan(0);
    // Out of touch with its leader for an election timeout, so it hears vote requests.
    net.filter = (m) => m.to !== 4;
    await net.tickAll(15);
    net.filter = () => true;
    const asker = others([1, 2, 3], leader)[0]!;
    const answers = await askVotes(net, asker, 4);
    expect(answers.map((m) => [m.type, m.reject])).toEqual([
      [MessageType.PreVoteResp, false],
      [MessageType.VoteResp, false],
    ]);
  });
});
