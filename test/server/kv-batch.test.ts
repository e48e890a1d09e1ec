import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authEnabledCluster, post, ROOT_PASSWORD, token } from "./auth-support.js";
import { b64, type Member, startCluster, type TestCluster, text } from "./cluster.js";

const BATCH = "/v3/kv/batch";

describe("POST /v3/kv/batch", () => {
  let cluster: TestCluster;
  let leader: Member;
  let follower: Member;

  beforeAll(async () => {
    cluster = await startCluster({ maxRangeBytes: 1000, maxKeyBytes: 64 });
    leader = await cluster.leader();
    [follower] = (await cluster.followers()) as [Member];
  });
  afterAll(async () => {
    await cluster.stop();
  });

  const put = (key: string, value: string, id?: string) => ({
    request_put: { key: b64(key), value: b64(value) },
    ...(id !== undefined && { request_id: id }),
  });
  const get = (key: string) => ({ request_range: { key: b64(key) } });

  const batched = async (m: Member) => {
    const line = (await m.metrics.text())
      .split("\n")
      .find((l) => l.startsWith("conclave_kv_batched_requests_total "));
    return Number(line?.split(" ")[1]);
  };

  it("answers each request as its own route would, each write at its own revision", async () => {
    const before = leader.store.revision;
    const counted = await batched(leader);
    const r = await post(leader, BATCH, {
      requests: [put("b/1", "one"), put("b/2", "two"), put("b/3", "three")],
    });
    expect(r.status).toBe(200);
    const revisions = r.body.responses.map(
      (a: { status: number; body: { header: { revision: string } } }) => {
        expect(a.status).toBe(200);
        return Number(a.body.header.revision);
      },
    );
    expect([...revisions].sort()).toEqual([before + 1, before + 2, before + 3]);
    // Counted per request carried, the batch once in the route's own counter.
    expect(await batched(leader)).toBe(counted + 3);

    const read = await post(leader, BATCH, {
      requests: [get("b/2"), get("b/none"), { request_delete_range: { key: b64("b/3") } }],
    });
    expect(read.status).toBe(200);
    const [two, none, deleted] = read.body.responses;
    expect(two.status).toBe(200);
    expect(text(two.body.kvs[0].value)).toBe("two");
    expect(none).toEqual({
      status: 200,
      body: expect.not.objectContaining({ kvs: expect.anything() }),
    });
    expect(deleted.status).toBe(200);
    expect(Number(deleted.body.deleted)).toBe(1);
    // Every replica holds what the batch wrote.
    const alone = await post(follower, "/v3/kv/range", { key: b64("b/"), range_end: b64("b0") });
    expect(alone.body.kvs.map((kv: { key: string }) => text(kv.key))).toEqual(["b/1", "b/2"]);
  });

  it("keeps one request's refusal to that request", async () => {
    const r = await post(leader, BATCH, {
      requests: [
        put("c/ok", "1"),
        put(`c/${"x".repeat(100)}`, "too long a key"),
        { request_put: { key: b64("c/prev"), value: b64("1"), prev_kv: true } },
        get(`c/${"y".repeat(100)}`),
        put("c/ok2", "2"),
      ],
    });
    expect(r.status).toBe(200);
    const statuses = r.body.responses.map((a: { status: number }) => a.status);
    // A key over the limit is refused as its own route refuses it.
    const alone = await post(leader, "/v3/kv/put", { key: b64(`c/${"x".repeat(100)}`) });
    expect(alone.status).toBe(413);
    expect(statuses).toEqual([200, 413, 400, 413, 200]);
    expect(r.body.responses[1].body.code).toBe(alone.body.code);
    expect(r.body.responses[1].body.message).toContain("requests[1].request_put.key");
    expect(r.body.responses[2].body.code).toBe("INVALID_ARGUMENT");
    expect(r.body.responses[2].body.message).toContain("prev_kv");
    expect(leader.store.range({ type: "range", key: Buffer.from("c/prev") }).kvs).toEqual([]);
  });

  it("applies a request id once, and refuses one reused for another write", async () => {
    const first = await post(leader, BATCH, { requests: [put("d/k", "v", "batch-id-1")] });
    const again = await post(leader, BATCH, {
      requests: [put("d/k", "v", "batch-id-1"), put("d/k", "other", "batch-id-1")],
    });
    const revision = first.body.responses[0].body.header.revision;
    expect(again.body.responses[0]).toEqual({ status: 200, body: first.body.responses[0].body });
    expect(again.body.responses[1].status).toBe(422);
    expect(leader.store.range({ type: "range", key: Buffer.from("d/k") }).kvs[0]?.modRevision).toBe(
      Number(revision),
    );
    // The same key sent alone with the header is the same request.
    const single = await leader.app.inject({
      method: "POST",
      url: "/v3/kv/put",
      payload: { key: b64("d/k"), value: b64("v") },
      headers: { "idempotency-key": "batch-id-1" },
    });
    expect(single.json().header.revision).toBe(revision);
  });

  it("shares one answer budget among the ranges of a batch", async () => {
    // 400-byte values against a 1000-byte budget: two fit, the third starts past it.
    const value = "v".repeat(400);
    await post(leader, BATCH, { requests: [1, 2, 3, 4].map((i) => put(`e/${i}`, value)) });
    const r = await post(leader, BATCH, { requests: [1, 2, 3, 4].map((i) => get(`e/${i}`)) });
    const answers = r.body.responses;
    expect(answers.map((a: { status: number }) => a.status)).toEqual([200, 200, 200, 503]);
    expect(answers[3].body.code).toBe("BATCH_BUDGET_SPENT");
    for (const a of answers.slice(0, 3)) expect(text(a.body.kvs[0].value)).toBe(value);
  });

  it("refuses a malformed batch whole, before any of it runs", async () => {
    const before = leader.store.revision;
    const refusals = [
      { requests: [] },
      { requests: [{ ...put("f/a", "1"), ...get("f/b") }] },
      { requests: [{ request_txn: {} }] },
      { requests: [put("f/a", "1", "not an id!")] },
      { requests: Array.from({ length: 65 }, (_, i) => put(`f/${i}`, "1")) },
      { requests: [put("f/a", "1")], extra: true },
    ];
    for (const body of refusals) {
      const r = await post(leader, BATCH, body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(r.body.code).toBe("INVALID_ARGUMENT");
    }
    expect(leader.store.revision).toBe(before);
  });

  it("on a follower, answers writes NOT_LEADER with the leader, and serves reads", async () => {
    const r = await post(follower, BATCH, { requests: [put("g/a", "1"), get("b/1")] });
    expect(r.status).toBe(200);
    const [write, read] = r.body.responses;
    expect(write.status).toBe(421);
    expect(write.body).toMatchObject({ code: "NOT_LEADER", leader: leader.id });
    expect(read.status).toBe(200);
    expect(text(read.body.kvs[0].value)).toBe("one");
  });
});

describe("POST /v3/kv/batch with auth", () => {
  const cluster = authEnabledCluster();

  it("refuses the whole batch when any key is not the caller's, and runs none of it", async () => {
    const leader = cluster.leader();
    const writer = await token(leader, "writer", "writer-password");
    const reader = await token(leader, "reader", "reader-password");
    const before = leader.store.revision;
    const mixed = {
      requests: [
        { request_put: { key: b64("a/1"), value: b64("1") } },
        { request_put: { key: b64("z/1"), value: b64("1") } },
      ],
    };
    const denied = await post(leader, BATCH, mixed, writer);
    expect(denied.status).toBe(403);
    expect(leader.store.revision).toBe(before);
    // A reader may read a/ but not write it.
    const readerWrite = await post(leader, BATCH, { requests: [mixed.requests[0]!] }, reader);
    expect(readerWrite.status).toBe(403);
    const anonymous = await post(leader, BATCH, { requests: [mixed.requests[0]!] });
    expect(anonymous.status).toBe(401);

    const allowed = await post(leader, BATCH, { requests: [mixed.requests[0]!] }, writer);
    expect(allowed.status).toBe(200);
    expect(allowed.body.responses[0].status).toBe(200);
    const read = await post(
      leader,
      BATCH,
      { requests: [{ request_range: { key: b64("a/1") } }] },
      reader,
    );
    expect(text(read.body.responses[0].body.kvs[0].value)).toBe("1");
    const root = await token(leader, "root", ROOT_PASSWORD);
    expect((await post(leader, BATCH, mixed, root)).status).toBe(200);
  });
});
