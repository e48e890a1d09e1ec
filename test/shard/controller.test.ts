import { afterEach, describe, expect, it } from "vitest";
import { KvReplica, type KvResult, KvStore } from "../../src/kv/index.js";
import { RaftNode } from "../../src/raft/node/node.js";
import { MemoryStorage } from "../../src/raft/storage/memory.js";
import { MemoryNetwork } from "../../src/raft/transport/index.js";
import { initialMap, PlacementController } from "../../src/shard/controller.js";
import { MetaStore } from "../../src/shard/meta-store.js";
import type { GroupReport, HeartbeatRequest, NodeRecord } from "../../src/shard/types.js";
import { waitFor } from "../support/wait-for.js";

const started: RaftNode<KvResult>[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((n) => n.stop()));
});

/** A one-member meta group in memory: enough for the controller's reads and fenced writes. */
async function metaGroup(): Promise<MetaStore> {
  const store = new KvStore();
  const node = await RaftNode.start<KvResult>({
    id: 1,
    storage: new MemoryStorage(),
    transport: new MemoryNetwork().transport(1),
    stateMachine: store,
    initialCluster: new Map([[1, "127.0.0.1:7001"]]),
    heartbeatMs: 10,
    electionMs: 50,
  });
  started.push(node);
  await waitFor(() => node.status().role === "leader", "the meta group's leader");
  return new MetaStore(new KvReplica(node, store, 2000));
}

const node = (id: number): NodeRecord => ({
  id,
  peer: `127.0.0.1:${7000 + id}`,
  client: "",
  capacity: 1,
  draining: false,
});

const OPTIONS = {
  shardCount: 4,
  replication: 3,
  failureTimeoutMs: 1000,
  maxMoving: 2,
  catchUpEntries: 10,
};

function heartbeat(id: number, groups: GroupReport[] = []): HeartbeatRequest {
  const { draining: _, ...self } = node(id);
  return { type: "heartbeat", seq: 1, node: self, mapRevision: 0, groups };
}

function report(fields: Partial<GroupReport> & Pick<GroupReport, "group" | "leader">): GroupReport {
  return {
    term: 2,
    voters: [],
    learners: [],
    outgoing: [],
    commit: 100,
    applied: 100,
    match: [],
    ...fields,
  };
}

describe("PlacementController", () => {
  const founders = [1, 2, 3].map(node);
  const founding = initialMap(founders, { shardCount: 4, replication: 3 });

  async function controller(now = 0) {
    const meta = await metaGroup();
    const c = await PlacementController.load(meta, OPTIONS, founding, now);
    return { meta, c };
  }

  it("writes the founding map once and serves it to a node whose map is older", async () => {
    const { meta, c } = await controller();
    const state = await meta.read();
    expect(state.config).toEqual({ shardCount: 4, replication: 3 });
    expect(state.groups.map((g) => g.record.replicas)).toEqual(
      founding.groups.map((g) => g.replicas),
    );
    const reply = c.heartbeat(heartbeat(1), 10);
    expect(reply.map?.revision).toBe(state.revision);
    expect(reply.map?.groups).toHaveLength(5);
    // Up to date: no map again.
    const again = c.heartbeat({ ...heartbeat(1), mapRevision: state.revision }, 20);
    expect(again.map).toBeUndefined();
  });

  it("adds before it removes, and promotes only a learner whose own log names it a member", async () => {
    const { c } = await controller();
    // Node 4 joins; node 3 stops answering: group 1 must move from 3 to 4.
    for (const id of [1, 2, 4]) c.heartbeat(heartbeat(id), 1000);
    const leaderOf1 = (r: Partial<GroupReport>) =>
      c.heartbeat(heartbeat(1, [report({ group: 1, leader: 1, ...r })]), 1500).operators;
    // The group's leader has reported (a group without a leader is not retargeted).
    expect(leaderOf1({ voters: [1, 2, 3] })).toEqual([]);
    await c.plan(1500);
    expect(c.shardMap().groups[1]?.replicas).toEqual(expect.arrayContaining([1, 2, 4]));
    // Step 1: the new node as a learner; nothing is removed yet.
    expect(leaderOf1({ voters: [1, 2, 3] })).toEqual([
      { group: 1, kind: "add-learner", node: 4, peer: "127.0.0.1:7004" },
    ]);
    // An empty learner (match 0), even with a commit index within catch-up reach, waits.
    expect(leaderOf1({ voters: [1, 2, 3], learners: [4], commit: 5, match: [[4, 0]] })).toEqual([]);
    // Caught up by the leader's count, but its own report does not name it a member yet.
    c.heartbeat(heartbeat(4, [report({ group: 1, leader: 1, voters: [], learners: [] })]), 1500);
    expect(leaderOf1({ voters: [1, 2, 3], learners: [4], match: [[4, 95]] })).toEqual([]);
    // Its own log names it a learner: promote.
    c.heartbeat(
      heartbeat(4, [report({ group: 1, leader: 1, voters: [1, 2, 3], learners: [4] })]),
      1500,
    );
    expect(leaderOf1({ voters: [1, 2, 3], learners: [4], match: [[4, 95]] })).toEqual([
      { group: 1, kind: "promote", node: 4, peer: "127.0.0.1:7004" },
    ]);
    // Every live target node is a voter: now the dead replica goes.
    c.heartbeat(heartbeat(4, [report({ group: 1, leader: 1, voters: [1, 2, 3, 4] })]), 1500);
    expect(
      leaderOf1({
        voters: [1, 2, 3, 4],
        match: [
          [2, 100],
          [3, 40],
          [4, 100],
        ],
      }),
    ).toEqual([{ group: 1, kind: "remove", node: 3 }]);
  });

  it("moves leadership off a replica it removes, and never removes a voter when the live caught-up rest would lack a quorum", async () => {
    const { c } = await controller();
    for (const id of [1, 2, 3, 4]) c.heartbeat(heartbeat(id), 0);
    expect(await c.move(2, 3, 4, 0)).toBe(2);
    expect(c.shardMap().groups[2]?.replicas).toEqual(expect.arrayContaining([1, 2, 4]));
    const voters = [1, 2, 3, 4];
    // Every replica's own log names it a voter.
    for (const id of voters)
      c.heartbeat(heartbeat(id, [report({ group: 2, leader: 3, voters })]), 10);
    // The leader is the replica to remove: it hands leadership to a caught-up target voter first.
    const asLeader = c.heartbeat(
      heartbeat(3, [
        report({ group: 2, leader: 3, voters, match: voters.map((v) => [v, 100] as const) }),
      ]),
      10,
    ).operators;
    expect(asLeader).toHaveLength(1);
    expect(asLeader[0]).toMatchObject({ group: 2, kind: "transfer-leader" });
    expect([1, 2, 4]).toContain(asLeader[0]?.node);
    // Node 1 leads now, but 2 and 4 are far behind: without 3 no caught-up quorum is left.
    const behind = c.heartbeat(
      heartbeat(1, [
        report({
          group: 2,
          leader: 1,
          term: 3,
          voters,
          match: [
            [2, 1],
            [3, 100],
            [4, 1],
          ],
        }),
      ]),
      10,
    ).operators;
    expect(behind).toEqual([]);
    // Caught up again: 3 is removed.
    const caught = c.heartbeat(
      heartbeat(1, [
        report({
          group: 2,
          leader: 1,
          term: 3,
          voters,
          match: [
            [2, 100],
            [3, 100],
            [4, 100],
          ],
        }),
      ]),
      10,
    ).operators;
    expect(caught).toEqual([{ group: 2, kind: "remove", node: 3 }]);
  });

  it("refuses a move the planner would undo, and one onto a node that is down", async () => {
    const { c } = await controller();
    c.heartbeat(heartbeat(4), 0);
    for (const id of [1, 2, 3]) c.heartbeat(heartbeat(id), 5000);
    // Node 4 was last heard at 0: at 5000 it is down.
    await expect(c.move(2, 3, 4, 5000)).rejects.toThrow(/move it back/);
    expect(c.shardMap().groups[2]?.replicas).toEqual(founding.groups[2]?.replicas);
    c.heartbeat(heartbeat(4), 5000);
    expect(await c.move(2, 3, 4, 5000)).toBe(2);
  });

  it("a controller that read an older state cannot overwrite a newer one", async () => {
    const meta = await metaGroup();
    const a = await PlacementController.load(meta, OPTIONS, founding, 0);
    const b = await PlacementController.load(meta, OPTIONS, founding, 0);
    for (const c of [a, b]) c.heartbeat(heartbeat(4), 0);
    const holder = founding.groups[3]?.replicas[0] as number;
    await a.move(3, holder, 4, 0);
    // b still believes the founding target: its write is fenced off, and it learns the new state.
    await expect(b.move(3, holder, 4, 0)).rejects.toThrow(/changed meanwhile/);
    expect(b.shardMap().groups[3]?.replicas).toContain(4);
    const state = await meta.read();
    expect(state.groups[3]?.record.epoch).toBe(2);
  });
});
