import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvStore, utf8 } from "../../../src/kv/index.js";
import {
  b64,
  eventually,
  initialCluster,
  type MemberPlan,
  planMembers,
  post,
  ServeProcess,
  tempRoot,
} from "./serve-process.js";

interface MemberJson {
  ID: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

const root = tempRoot();
let plans: MemberPlan[] = [];
const procs = new Map<string, ServeProcess>();

async function startAll(): Promise<void> {
  const cluster = initialCluster(plans);
  const started = await Promise.all(
    plans.map((m) => ServeProcess.start(m, ["--initial-cluster", cluster])),
  );
  for (const [i, p] of started.entries()) procs.set(plans[i]!.name, p);
}

/** The member every running founder names as leader. */
async function leader(): Promise<MemberPlan> {
  return eventually(async () => {
    const seen = await Promise.all(
      plans.map(
        async (m) =>
          (await (await fetch(`${m.clientUrl}/status`)).json()) as { leader: number | null },
      ),
    );
    const id = seen[0]?.leader;
    if (id === null || id === undefined || seen.some((s) => s.leader !== id)) return undefined;
    return plans.find((m) => m.id === id);
  }, "every member to agree on a leader");
}

async function members(url: string): Promise<MemberJson[]> {
  const r = await post(url, "/v3/cluster/member/list");
  expect(r.status).toBe(200);
  return r.body["members"] as MemberJson[];
}

beforeAll(async () => {
  plans = await planMembers(root.path, ["n1", "n2", "n3"]);
  await startAll();
}, 120_000);

afterAll(async () => {
  for (const p of procs.values()) p.kill();
  await Promise.all([...procs.values()].map((p) => p.exited));
  root.remove();
});

describe("a 3-member cluster of conclave serve processes", () => {
  it("lists every member's name and client URL from every node", async () => {
    await leader();
    for (const m of plans) {
      const listed = await eventually(async () => {
        const list = await members(m.clientUrl);
        return list.every((x) => x.clientURLs.length > 0) ? list : undefined;
      }, `member attributes on ${m.name}`);
      expect(listed).toEqual(
        plans.map((p) => ({
          ID: String(p.id),
          name: p.name,
          peerURLs: [p.peer],
          clientURLs: [p.clientUrl],
          isLearner: false,
        })),
      );
    }
  }, 60_000);

  it("writes through any member: a follower forwards to the leader", async () => {
    const l = await leader();
    const follower = plans.find((m) => m.id !== l.id)!;
    const put = await post(follower.clientUrl, "/v3/kv/put", {
      key: b64("greeting"),
      value: b64("hello"),
    });
    expect(put.status).toBe(200);
    // A request another member already forwarded is not sent on again: NOT_LEADER, as before.
    const res = await fetch(`${follower.clientUrl}/v3/kv/put`, {
      method: "POST",
      headers: { "content-type": "application/json", "conclave-forwarded-by": String(l.id) },
      body: JSON.stringify({ key: b64("x"), value: b64("y") }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(res.status).toBe(421);
    expect(await res.json()).toMatchObject({
      code: "NOT_LEADER",
      leader: l.id,
      leaderUrl: l.clientUrl,
    });
    // Linearizable reads work on any member.
    const read = await post(follower.clientUrl, "/v3/kv/range", { key: b64("greeting") });
    expect(read.status).toBe(200);
    expect((read.body["kvs"] as { value: string }[])[0]?.value).toBe(b64("hello"));
  }, 60_000);

  it("adds a fourth process as a learner, promotes it, then removes it", async () => {
    const l = await leader();
    const [n4] = await planMembers(root.path, ["n4"], 4);
    const follower = plans.find((m) => m.id !== l.id)!;
    // Through a follower, which forwards it to the leader.
    const added = await post(follower.clientUrl, "/v3/cluster/member/add", {
      ID: n4!.id,
      name: "n4",
      peerURLs: [n4!.peer],
      clientURLs: [n4!.clientUrl],
      isLearner: true,
    });
    expect(added.status).toBe(200);
    expect(added.body["member"]).toEqual({
      ID: "4",
      name: "n4",
      peerURLs: [n4!.peer],
      clientURLs: [n4!.clientUrl],
      isLearner: true,
    });
    const p4 = await ServeProcess.start(n4!, [
      "--join",
      "--initial-cluster",
      initialCluster(plans),
    ]);
    procs.set("n4", p4);
    // The learner catches up: it serves the data written before it joined.
    await eventually(async () => {
      const r = await post(n4!.clientUrl, "/v3/kv/range", {
        key: b64("greeting"),
        serializable: true,
      });
      return (r.body["kvs"] as unknown[] | undefined)?.length === 1 ? true : undefined;
    }, "the learner to catch up");
    const promoted = await post(l.clientUrl, "/v3/cluster/member/promote", { ID: "4" });
    expect(promoted.status).toBe(200);
    expect((promoted.body["members"] as MemberJson[]).find((m) => m.ID === "4")?.isLearner).toBe(
      false,
    );
    const again = await post(l.clientUrl, "/v3/cluster/member/promote", { ID: "4" });
    expect(again.body["code"]).toBe("MEMBER_ROLE");
    const removed = await post(l.clientUrl, "/v3/cluster/member/remove", { ID: "4" });
    expect(removed.status).toBe(200);
    expect((removed.body["members"] as MemberJson[]).map((m) => m.ID)).toEqual(["1", "2", "3"]);
    const unknown = await post(l.clientUrl, "/v3/cluster/member/remove", { ID: "4" });
    expect(unknown).toMatchObject({ status: 404, body: { code: "MEMBER_NOT_FOUND" } });
    expect(await p4.terminate()).toBe(0);
    procs.delete("n4");
  }, 120_000);

  it("transfers leadership to a follower", async () => {
    const l = await leader();
    const target = plans.find((m) => m.id !== l.id)!;
    const r = await post(l.clientUrl, "/v3/maintenance/transfer-leadership", {
      targetID: String(target.id),
    });
    expect(r.status).toBe(200);
    expect((await leader()).id).toBe(target.id);
    const status = await post(target.clientUrl, "/v3/maintenance/status");
    expect(status.body).toMatchObject({
      memberID: String(target.id),
      leader: String(target.id),
      isLearner: false,
    });
  }, 60_000);

  it("streams a snapshot a fresh KvStore restores", async () => {
    const res = await fetch(`${plans[0]!.clientUrl}/v3/maintenance/snapshot`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    const bytes = new Uint8Array(await res.arrayBuffer());
    const store = new KvStore();
    await store.restore(
      (async function* () {
        yield bytes;
      })(),
    );
    const found = store.range({ key: utf8("greeting") });
    expect(Buffer.from(found.kvs[0]!.value).toString()).toBe("hello");
    expect(store.members.get(1)?.name).toBe("n1");
  }, 60_000);

  it("exits 0 on SIGTERM and keeps its data across a restart from the same data dirs", async () => {
    const codes = await Promise.all(plans.map((m) => procs.get(m.name)!.terminate()));
    expect(codes).toEqual([0, 0, 0]);
    procs.clear();
    await startAll();
    const l = await leader();
    const read = await post(l.clientUrl, "/v3/kv/range", { key: b64("greeting") });
    expect((read.body["kvs"] as { value: string }[])[0]?.value).toBe(b64("hello"));
    const list = await members(plans[2]!.clientUrl);
    expect(list.map((m) => m.name)).toEqual(["n1", "n2", "n3"]);
  }, 120_000);

  it("a follower restarted with a new client URL gets it published through the leader", async () => {
    const l = await leader();
    const follower = plans.find((m) => m.id !== l.id)!;
    expect(await procs.get(follower.name)!.terminate()).toBe(0);
    const [moved] = await planMembers(root.path, [follower.name], follower.id);
    const restarted = { ...follower, clientPort: moved!.clientPort, clientUrl: moved!.clientUrl };
    procs.set(
      follower.name,
      await ServeProcess.start({ ...restarted, peer: follower.peer, peerPort: follower.peerPort }, [
        "--initial-cluster",
        initialCluster(plans),
      ]),
    );
    for (const m of plans) {
      const url = m.id === follower.id ? moved!.clientUrl : m.clientUrl;
      await eventually(async () => {
        const list = await members(url);
        const entry = list.find((x) => x.ID === String(follower.id));
        return entry?.clientURLs[0] === moved!.clientUrl ? true : undefined;
      }, `the new client URL of ${follower.name} on ${m.name}`);
    }
  }, 120_000);
});
