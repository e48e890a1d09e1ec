import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LearnerNotReadyError, UnsafeReconfigurationError } from "../../src/client/index.js";
import { type KvResult, KvStore } from "../../src/kv/index.js";
import { MessageType } from "../../src/raft/core/index.js";
import { RaftNode } from "../../src/raft/node/index.js";
import { MemoryStorage } from "../../src/raft/storage/memory.js";
import { createServer } from "../../src/server/index.js";
import { capturedLog } from "../support/captured-log.js";
import { b64, type Member, waitFor } from "./cluster.js";
import { type HttpCluster, startHttpCluster } from "./http-cluster.js";

interface MemberJson {
  ID: string;
  isLearner: boolean;
}

let cluster: HttpCluster;
let leader: Member;
const extraNodes: RaftNode<KvResult>[] = [];

/** Peer addresses nothing listens on: the in-memory network drops what is sent to them. */
const deadPeer = (id: number) => `127.0.0.1:${7100 + id}`;

async function post(path: string, body: unknown) {
  const res = await fetch(`${cluster.urlOf(leader.id)}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function memberIds(): Promise<{ voters: string[]; learners: string[] }> {
  const list = await post("/v3/cluster/member/list", {});
  const members = list.body["members"] as MemberJson[];
  return {
    voters: members.filter((m) => !m.isLearner).map((m) => m.ID),
    learners: members.filter((m) => m.isLearner).map((m) => m.ID),
  };
}

/** A write through the API commits: the cluster still has a leader and a quorum. */
async function expectWriteCommits(key: string): Promise<void> {
  const put = await post("/v3/kv/put", { key: b64(key), value: b64("v") });
  expect(put.status, JSON.stringify(put.body)).toBe(200);
  expect(leader.node.status().role).toBe("leader");
}

/** The leader hears from every member it has started: the check sees the cluster as it is. */
async function allStartedConnected(): Promise<void> {
  await waitFor(
    () =>
      leader.node
        .status()
        .peers.filter((p) => p.id <= 3)
        .every((p) => p.connected),
    "the leader to hear from every started member",
  );
}

beforeAll(async () => {
  cluster = await startHttpCluster();
  leader = await cluster.leader();
  await allStartedConnected();
});
afterEach(async () => {
  cluster.network.setFilter(undefined);
  // Each case leaves the founding three voters and nothing else.
  const { voters, learners } = await memberIds();
  for (const id of [...voters, ...learners].filter((x) => Number(x) > 3)) {
    await post("/v3/cluster/member/remove", { ID: id });
  }
  expect(await memberIds()).toEqual({ voters: ["1", "2", "3"], learners: [] });
});
afterAll(async () => {
  await Promise.all(extraNodes.map((n) => n.stop()));
  await cluster.stop();
});

describe("strict reconfiguration check over the HTTP API", { timeout: 30_000 }, () => {
  it("three plain adds of unreachable members: one learner, the rest refused, the quorum intact", async () => {
    const added = await post("/v3/cluster/member/add", { ID: "11", peerURLs: [deadPeer(11)] });
    expect(added.status).toBe(200);
    expect(added.body["member"]).toMatchObject({ ID: "11", isLearner: true });
    // One learner at a time by default: a flood of adds cannot pile up members.
    for (const id of [12, 13]) {
      const more = await post("/v3/cluster/member/add", { peerURLs: [deadPeer(id)] });
      expect(more).toMatchObject({
        status: 409,
        body: {
          code: "TOO_MANY_LEARNERS",
          message: expect.stringContaining("the cluster already holds 1 of at most 1 learners"),
        },
      });
    }
    expect(await memberIds()).toEqual({ voters: ["1", "2", "3"], learners: ["11"] });
    await expectWriteCommits("after-learner");
  });

  it("adding unreachable voters again and again: refused before quorum is lost, writes keep committing", async () => {
    const outcomes: string[] = [];
    for (const id of [21, 22, 23, 24, 25]) {
      const r = await post("/v3/cluster/member/add", {
        ID: String(id),
        name: `ghost-${id}`,
        peerURLs: [deadPeer(id)],
        isLearner: false,
      });
      outcomes.push(r.status === 200 ? "added" : String(r.body["code"]));
      if (r.status !== 200) {
        expect(r.status).toBe(409);
        expect(r.body["message"]).toBe(
          `adding voter ${id} refused: it would leave 3 connected of 6 voters, fewer than the ` +
            "quorum of 4; add it as a learner, or bring the unreachable voters back or remove them first",
        );
      }
      await expectWriteCommits(`ghosts/${id}`);
    }
    // 3 alive keep a quorum of 4 voters and of 5; a 6th voter would need 4 alive.
    expect(outcomes).toEqual([
      "added",
      "added",
      "UNSAFE_RECONFIGURATION",
      "UNSAFE_RECONFIGURATION",
      "UNSAFE_RECONFIGURATION",
    ]);
    // A refused add leaves no trace: not in the configuration, no attributes published.
    expect(await memberIds()).toEqual({ voters: ["1", "2", "3", "21", "22"], learners: [] });
    expect(leader.store.members.get(23)).toBeUndefined();

    // The SDK throws the typed error.
    const client = cluster.client();
    const refused = await client
      .memberAdd([deadPeer(26)], { isLearner: false })
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(UnsafeReconfigurationError);
    expect(refused).toMatchObject({ code: "UNSAFE_RECONFIGURATION", status: 409 });

    // The dead voters can be removed: it only lowers the quorum.
    for (const id of ["21", "22"]) {
      expect((await post("/v3/cluster/member/remove", { ID: id })).status).toBe(200);
    }
    expect(await memberIds()).toEqual({ voters: ["1", "2", "3"], learners: [] });
    await expectWriteCommits("ghosts/gone");
  });

  it("removes dead voters, but not a live voter the quorum depends on", async () => {
    for (const id of ["31", "32"]) {
      const r = await post("/v3/cluster/member/add", {
        ID: id,
        peerURLs: [deadPeer(Number(id))],
        isLearner: false,
      });
      expect(r.status).toBe(200);
    }
    // Five voters, three alive: each live one is needed for the quorum of three.
    const follower = cluster.members.find((m) => m.id !== leader.id)!;
    const unsafe = await post("/v3/cluster/member/remove", { ID: String(follower.id) });
    expect(unsafe.status).toBe(409);
    expect(unsafe.body).toMatchObject({
      code: "UNSAFE_RECONFIGURATION",
      message: expect.stringContaining(
        "it would leave 2 connected of 4 voters, fewer than the quorum of 3",
      ),
    });
    expect((await memberIds()).voters).toEqual(["1", "2", "3", "31", "32"]);
    for (const id of ["31", "32"]) {
      expect((await post("/v3/cluster/member/remove", { ID: id })).status).toBe(200);
      await expectWriteCommits(`removed/${id}`);
    }
    expect(await memberIds()).toEqual({ voters: ["1", "2", "3"], learners: [] });
  });

  it("promotes a learner only once the leader hears from it and it has caught up", async () => {
    for (let i = 0; i < 20; i++) await expectWriteCommits(`before-learner/${i}`);
    const added = await post("/v3/cluster/member/add", { ID: "4", peerURLs: [deadPeer(4)] });
    expect(added.body["member"]).toMatchObject({ ID: "4", isLearner: true });

    // Not started yet: never ready, whatever else holds.
    const early = await post("/v3/cluster/member/promote", { ID: "4" });
    expect(early.status).toBe(412);
    expect(early.body).toMatchObject({ code: "LEARNER_NOT_READY" });
    expect(early.body["message"]).toMatch(/has not heard from it within an election timeout/);
    const typed = await cluster
      .client()
      .memberPromote(4)
      .catch((err: unknown) => err);
    expect(typed).toBeInstanceOf(LearnerNotReadyError);
    expect((await memberIds()).learners).toEqual(["4"]);

    // Heartbeats reach it, the log does not: the leader hears from a learner that stays behind.
    cluster.network.setFilter(
      (m) => m.to !== 4 || (m.type !== MessageType.App && m.type !== MessageType.Snap),
    );
    const n4 = await RaftNode.start<KvResult>({
      id: 4,
      storage: new MemoryStorage(),
      transport: cluster.network.transport(4),
      stateMachine: new KvStore(),
      initialCluster: new Map([1, 2, 3, 4].map((id) => [id, deadPeer(id)])),
      join: true,
      heartbeatMs: 25,
      electionMs: 1000,
    });
    extraNodes.push(n4);
    await waitFor(
      () => leader.node.status().peers.find((x) => x.id === 4)?.connected,
      "the leader to hear from the learner",
    );
    const behind = await post("/v3/cluster/member/promote", { ID: "4" });
    expect(behind.status).toBe(412);
    expect(behind.body["message"]).toMatch(
      /^learner 4 is not ready to vote: it holds the log up to index 0, and needs \d+ \(90% of the leader's commit index\)/,
    );
    expect((await memberIds()).learners).toEqual(["4"]);

    cluster.network.setFilter(undefined);
    await waitFor(() => {
      const st = leader.node.status();
      const p = st.peers.find((x) => x.id === 4);
      return p?.connected === true && p.matchIndex >= st.commitIndex;
    }, "the learner to catch up");
    const promoted = await post("/v3/cluster/member/promote", { ID: "4" });
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(200);
    expect(await memberIds()).toEqual({ voters: ["1", "2", "3", "4"], learners: [] });
    await expectWriteCommits("after-promotion");
  });
});

describe("with the check turned off", () => {
  it("the server says so at warn level when it is built", async () => {
    const { logger: loggerInstance, lines } = capturedLog();
    const app = createServer({
      node: leader.node,
      store: leader.store,
      strictReconfigCheck: false,
      loggerInstance,
    });
    await app.close();
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 40,
        msg: expect.stringContaining("strict reconfiguration check is OFF"),
      }),
    );
  });
});
