import { describe, expect, it } from "vitest";
import {
  type Message,
  MessageType,
  message,
  ProgressState,
  QUIESCE_CONTEXT,
  Role,
} from "../../src/raft/core/index.js";
import type { BasicStatus, RaftStatus } from "../../src/raft/core/rawnode.js";
import { followerMayQuiesce, keepsQuiet, leaderIdle } from "../../src/raft/node/quiescence.js";
import type { GroupReplica } from "../../src/shard/host.js";
import type { GroupId } from "../../src/shard/types.js";
import { ShardSim } from "../../src/sim/shards/cluster.js";
import { shardSimOptions } from "../../src/sim/shards/run.js";

const { heartbeatMs: TICK_MS, electionMs: ELECTION_MS } = shardSimOptions({ seed: 0 }).timing;

function sim(seed: number, liveness: boolean): ShardSim {
  // A long failure timeout: the groups must recover by election, not by the controller moving them.
  return new ShardSim(shardSimOptions({ seed, liveness, failureTimeoutMs: 60_000 }));
}

function replicas(s: ShardSim): { node: number; replica: GroupReplica }[] {
  const out: { node: number; replica: GroupReplica }[] = [];
  for (const n of s.nodes.values()) {
    const host = n.up ? n.running?.host : undefined;
    for (const g of host?.groups() ?? []) out.push({ node: n.id, replica: host!.get(g)! });
  }
  return out;
}

/** Per group, the live leader with the highest term (undefined: none). */
function leaders(s: ShardSim): Map<GroupId, GroupReplica> {
  const out = new Map<GroupId, GroupReplica>();
  for (const { replica } of replicas(s)) {
    const st = replica.node.basicStatus();
    const prev = out.get(replica.group)?.node.basicStatus().term ?? -1;
    if (st.role === Role.Leader && st.term > prev) out.set(replica.group, replica);
  }
  return out;
}

async function settled(seed: number, liveness = true): Promise<ShardSim> {
  const s = sim(seed, liveness);
  s.start();
  expect(await s.runUntil(() => s.converged(), 8000)).toBe(true);
  // Idle: every replica goes quiet within a few ticks of the last step.
  expect(await s.runUntil(() => replicas(s).every((r) => r.replica.node.isQuiet), 2000)).toBe(true);
  return s;
}

async function put(s: ShardSim, replica: GroupReplica, key: string): Promise<boolean> {
  let done: boolean | undefined;
  replica.kv
    .write({ type: "put", key: new TextEncoder().encode(key), value: new Uint8Array([1]) })
    .then(
      () => {
        done = true;
      },
      () => {
        done = false;
      },
    );
  await s.runUntil(() => done !== undefined, ELECTION_MS * 5);
  return done === true;
}

describe("quiescent groups (sharded tier, simulated)", () => {
  it("idle groups stop ticking, and stay quiet: no term or index moves", async () => {
    const s = await settled(3);
    const before = replicas(s).map((r) => r.replica.node.basicStatus());
    let woke = false;
    for (let t = 0; t < 100 && !woke; t++) {
      await s.runFor(TICK_MS);
      woke = replicas(s).some((r) => !r.replica.node.isQuiet);
    }
    expect(woke).toBe(false);
    expect(replicas(s).map((r) => r.replica.node.basicStatus())).toEqual(before);
    expect(s.violation).toBeUndefined();
  });

  it("a write wakes its group, commits, and the group goes quiet again", async () => {
    const s = await settled(4);
    const [group, leader] = [...leaders(s)].find(([g]) => g !== 0)!;
    expect(await put(s, leader, "woken")).toBe(true);
    const members = () => replicas(s).filter((r) => r.replica.group === group);
    expect(members().every((r) => r.replica.node.basicStatus().commit > 0)).toBe(true);
    expect(await s.runUntil(() => members().every((r) => r.replica.node.isQuiet), 1000)).toBe(true);
    const last = leader.node.basicStatus().lastIndex;
    expect(members().every((r) => r.replica.node.basicStatus().commit === last)).toBe(true);
  });

  it("when the node leading quiet groups dies, node liveness wakes them and they elect", async () => {
    const s = await settled(5);
    const led = new Map<number, GroupId[]>();
    for (const [group, replica] of leaders(s)) {
      const id = replica.node.id;
      led.set(id, [...(led.get(id) ?? []), group]);
    }
    const [victim, groups] = [...led].sort((a, b) => b[1].length - a[1].length)[0]!;
    expect(groups.length).toBeGreaterThan(0);
    s.crash(victim);
    const recovered = () =>
      groups.every((g) => {
        const l = leaders(s).get(g);
        return l !== undefined && l.node.id !== victim;
      });
    // Liveness timeout, then an election timeout and a pre-vote round or two.
    expect(await s.runUntil(recovered, ELECTION_MS * 10)).toBe(true);
    for (const g of groups) expect(await put(s, leaders(s).get(g)!, `after-${g}`)).toBe(true);
    expect(s.violation).toBeUndefined();
  });

  it("without node liveness the same quiet groups would wait forever (why the agent pings)", async () => {
    const s = await settled(5, false);
    const victim = leaders(s).get(1)!.node.id;
    const theirs = [...leaders(s)].filter(([, r]) => r.node.id === victim).map(([g]) => g);
    s.crash(victim);
    await s.runFor(ELECTION_MS * 20);
    for (const g of theirs) {
      const followers = replicas(s).filter((r) => r.replica.group === g);
      expect(followers.length).toBeGreaterThan(0);
      expect(followers.every((r) => r.replica.node.isQuiet)).toBe(true);
      expect(leaders(s).get(g)).toBeUndefined();
    }
  });
});

describe("quiescence rules", () => {
  const follower: BasicStatus = {
    id: 2,
    term: 5,
    lead: 1,
    role: Role.Follower,
    commit: 9,
    lastIndex: 9,
  };
  const quiesce = (over: Partial<Message> = {}): Message => ({
    ...message({
      type: MessageType.Heartbeat,
      from: 1,
      to: 2,
      commit: 9,
      context: QUIESCE_CONTEXT,
    }),
    term: 5,
    ...over,
  });

  it("a follower goes quiet only on its leader's quiesce round with its whole log committed", () => {
    expect(followerMayQuiesce(quiesce(), follower)).toBe(true);
    expect(followerMayQuiesce(quiesce({ context: "" }), follower)).toBe(false);
    expect(followerMayQuiesce(quiesce({ from: 3 }), follower)).toBe(false);
    expect(followerMayQuiesce(quiesce({ term: 4 }), follower)).toBe(false);
    expect(followerMayQuiesce(quiesce({ commit: 10 }), follower)).toBe(false);
    expect(followerMayQuiesce(quiesce(), { ...follower, lastIndex: 10 })).toBe(false);
    expect(followerMayQuiesce(quiesce(), { ...follower, role: Role.Candidate })).toBe(false);
  });

  it("a quiet node stays quiet only on heartbeat traffic of its term", () => {
    expect(keepsQuiet(quiesce({ context: "" }), follower)).toBe(true);
    expect(keepsQuiet(quiesce({ type: MessageType.App }), follower)).toBe(false);
    expect(keepsQuiet(quiesce({ type: MessageType.PreVote, from: 3 }), follower)).toBe(false);
    expect(keepsQuiet(quiesce({ term: 6 }), follower)).toBe(false);
    expect(keepsQuiet(quiesce({ from: 3 }), follower)).toBe(false);
    const leader: BasicStatus = { ...follower, id: 1, role: Role.Leader };
    const resp = quiesce({ type: MessageType.HeartbeatResp, from: 2, to: 1 });
    expect(keepsQuiet(resp, leader)).toBe(true);
    expect(keepsQuiet({ ...resp, type: MessageType.AppResp }, leader)).toBe(false);
    expect(keepsQuiet({ ...resp, term: 6 }, leader)).toBe(false);
  });

  it("a leader is idle only with everything committed, applied and replicated", () => {
    const peer = (id: number, over = {}) => ({
      id,
      match: 9,
      next: 10,
      state: ProgressState.Replicate,
      isLearner: false,
      recentActive: true,
      ticksSinceHeard: 1,
      ...over,
    });
    const st: RaftStatus = {
      id: 1,
      term: 5,
      vote: 1,
      lead: 1,
      role: Role.Leader,
      commit: 9,
      applied: 9,
      lastIndex: 9,
      leadTransferee: 0,
      confState: {
        voters: [1, 2, 3],
        votersOutgoing: [],
        learners: [],
        learnersNext: [],
        autoLeave: false,
      },
      progress: [peer(1, { ticksSinceHeard: 0 }), peer(2), peer(3)],
    };
    expect(leaderIdle(st, 9, 3)).toBe(true);
    expect(leaderIdle(st, 8, 3)).toBe(false);
    expect(leaderIdle({ ...st, commit: 8 }, 8, 3)).toBe(false);
    expect(leaderIdle({ ...st, leadTransferee: 2 }, 9, 3)).toBe(false);
    expect(leaderIdle({ ...st, role: Role.Follower }, 9, 3)).toBe(false);
    const lagging = { ...st, progress: [peer(1), peer(2, { match: 8 }), peer(3)] };
    expect(leaderIdle(lagging, 9, 3)).toBe(false);
    const probing = {
      ...st,
      progress: [peer(1), peer(2, { state: ProgressState.Probe }), peer(3)],
    };
    expect(leaderIdle(probing, 9, 3)).toBe(false);
    const silent = { ...st, progress: [peer(1), peer(2, { ticksSinceHeard: 4 }), peer(3)] };
    expect(leaderIdle(silent, 9, 3)).toBe(false);
    const joint = { ...st, confState: { ...st.confState, votersOutgoing: [1, 2, 4] } };
    expect(leaderIdle(joint, 9, 3)).toBe(false);
  });
});
