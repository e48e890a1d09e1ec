import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { b64, type Member, startCluster, type TestCluster, text, waitFor } from "./cluster.js";

let cluster: TestCluster;
let leader: Member;

beforeAll(async () => {
  cluster = await startCluster({
    clientUrls: new Map([
      [1, "http://n1"],
      [2, "http://n2"],
      [3, "http://n3"],
    ]),
  });
  leader = await cluster.leader();
});
afterAll(async () => {
  await cluster.stop();
});

async function post(m: Member, url: string, payload: unknown) {
  const res = await m.app.inject({ method: "POST", url, payload: payload as object });
  return { status: res.statusCode, body: res.json() };
}

describe("kv routes", () => {
  it("puts, ranges and deletes with etcd-shaped JSON", async () => {
    const put = await post(leader, "/v3/kv/put", { key: b64("rt/a"), value: b64("1") });
    expect(put.status).toBe(200);
    const rev = Number(put.body.header.revision);
    expect(rev).toBeGreaterThan(1);

    const again = await post(leader, "/v3/kv/put", {
      key: b64("rt/a"),
      value: b64("2"),
      prev_kv: true,
    });
    expect(text(again.body.prev_kv.value)).toBe("1");
    await post(leader, "/v3/kv/put", { key: b64("rt/b"), value: b64("3") });

    const range = await post(leader, "/v3/kv/range", { key: b64("rt/"), range_end: b64("rt0") });
    expect(range.status).toBe(200);
    expect(range.body.count).toBe("2");
    expect(range.body.kvs.map((kv: { key: string }) => text(kv.key))).toEqual(["rt/a", "rt/b"]);
    const a = range.body.kvs[0];
    expect(a).toMatchObject({
      create_revision: String(rev),
      mod_revision: String(rev + 1),
      version: "2",
    });
    // As etcd's gateway: fields at their zero value are left out.
    expect(a).not.toHaveProperty("lease");
    expect(text(a.value)).toBe("2");

    const desc = await post(leader, "/v3/kv/range", {
      key: b64("rt/"),
      range_end: b64("rt0"),
      sort_order: "DESCEND",
      limit: "1",
    });
    expect(desc.body.kvs.map((kv: { key: string }) => text(kv.key))).toEqual(["rt/b"]);
    expect(desc.body.more).toBe(true);

    const old = await post(leader, "/v3/kv/range", { key: b64("rt/a"), revision: rev });
    expect(text(old.body.kvs[0].value)).toBe("1");

    const del = await post(leader, "/v3/kv/deleterange", {
      key: b64("rt/"),
      range_end: b64("rt0"),
      prev_kv: true,
    });
    expect(del.body.deleted).toBe("2");
    expect(del.body.prev_kvs).toHaveLength(2);
    const empty = await post(leader, "/v3/kv/range", { key: b64("rt/a") });
    expect(empty.body).not.toHaveProperty("kvs");
    expect(empty.body).not.toHaveProperty("count");
    expect(empty.body).not.toHaveProperty("more");
  });

  it("runs a txn: compare, then the chosen branch, nested responses", async () => {
    await post(leader, "/v3/kv/put", { key: b64("tx/k"), value: b64("v1") });
    const txn = (expected: string) =>
      post(leader, "/v3/kv/txn", {
        compare: [{ key: b64("tx/k"), target: "VALUE", result: "EQUAL", value: b64(expected) }],
        success: [
          { request_put: { key: b64("tx/k"), value: b64("v2") } },
          { request_range: { key: b64("tx/k") } },
        ],
        failure: [{ request_range: { key: b64("tx/k") } }],
      });
    const ok = await txn("v1");
    expect(ok.status).toBe(200);
    expect(ok.body.succeeded).toBe(true);
    expect(ok.body.responses[0]).toHaveProperty("response_put");
    expect(text(ok.body.responses[1].response_range.kvs[0].value)).toBe("v2");

    const no = await txn("v1");
    expect(no.body).not.toHaveProperty("succeeded");
    expect(text(no.body.responses[0].response_range.kvs[0].value)).toBe("v2");

    const nested = await post(leader, "/v3/kv/txn", {
      success: [
        {
          request_txn: {
            compare: [{ key: b64("tx/none"), target: "VERSION", version: "0" }],
            success: [{ request_put: { key: b64("tx/n"), value: b64("x") } }],
          },
        },
      ],
    });
    expect(nested.body.responses[0].response_txn.succeeded).toBe(true);
  });

  it("answers 421 NOT_LEADER with the leader's id and URL on a follower write", async () => {
    const [follower] = await cluster.followers();
    const res = await post(follower!, "/v3/kv/put", { key: b64("f"), value: b64("1") });
    expect(res.status).toBe(421);
    expect(res.body).toMatchObject({
      code: "NOT_LEADER",
      leader: leader.id,
      leaderUrl: `http://n${leader.id}`,
    });
    expect(typeof res.body.message).toBe("string");
  });

  it("reads linearizably on a follower by default, and serializably from local state on request", async () => {
    const [follower] = await cluster.followers();
    const put = await post(leader, "/v3/kv/put", { key: b64("lin"), value: b64("new") });
    const rev = put.body.header.revision;
    // A linearizable read on a follower sees the write as soon as the leader acknowledged it.
    const lin = await post(follower!, "/v3/kv/range", { key: b64("lin") });
    expect(lin.status).toBe(200);
    expect(text(lin.body.kvs[0].value)).toBe("new");
    expect(lin.body.header.revision).toBe(rev);
    // Serializable reads never wait for ReadIndex: they answer from whatever is applied locally.
    const ser = await post(follower!, "/v3/kv/range", { key: b64("lin"), serializable: true });
    expect(ser.status).toBe(200);
    expect(ser.body.header.revision).toBe(String(follower!.store.revision));
  });

  it("serves serializable reads on a node cut off from the leader, and times out linearizable ones", async () => {
    const partitioned = await startCluster({ requestTimeoutMs: 300 });
    try {
      const l = await partitioned.leader();
      await post(l, "/v3/kv/put", { key: b64("p"), value: b64("1") });
      const f = partitioned.members.find((m) => m !== l)!;
      await waitFor(() => f.store.revision === l.store.revision, "follower applied");
      await l.node.stop();
      const ser = await post(f, "/v3/kv/range", { key: b64("p"), serializable: true });
      expect(ser.status).toBe(200);
      expect(text(ser.body.kvs[0].value)).toBe("1");
      const lin = await post(f, "/v3/kv/range", { key: b64("p") });
      expect([421, 503, 504]).toContain(lin.status);
      expect(typeof lin.body.code).toBe("string");
    } finally {
      await partitioned.stop();
    }
  });

  it("maps kv errors: future revision 400, compacted 400, ignore_value on a missing key 404", async () => {
    const future = await post(leader, "/v3/kv/range", { key: b64("x"), revision: 1_000_000 });
    expect(future.status).toBe(400);
    expect(future.body.code).toBe("KV_FUTURE_REVISION");
    const put = await post(leader, "/v3/kv/put", { key: b64("c"), value: b64("1") });
    await post(leader, "/v3/kv/put", { key: b64("c"), value: b64("2") });
    const rev = Number(put.body.header.revision);
    const compact = await post(leader, "/v3/kv/compaction", { revision: rev + 1 });
    expect(compact.status).toBe(200);
    const gone = await post(leader, "/v3/kv/range", { key: b64("c"), revision: rev });
    expect(gone.status).toBe(400);
    expect(gone.body.code).toBe("KV_COMPACTED");
    const missing = await post(leader, "/v3/kv/put", { key: b64("nope"), ignore_value: true });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("KV_KEY_NOT_FOUND");
  });

  it("applies a write retried with the same idempotency key once", async () => {
    const send = (key: string, value: string, id: string) =>
      leader.app.inject({
        method: "POST",
        url: "/v3/kv/put",
        headers: { "idempotency-key": id },
        payload: { key: b64(key), value: b64(value), prev_kv: true },
      });
    const first = await send("idem/a", "1", "req-1");
    const retry = await send("idem/a", "1", "req-1");
    expect(first.statusCode).toBe(200);
    expect(retry.json()).toEqual(first.json());
    const got = await post(leader, "/v3/kv/range", { key: b64("idem/a") });
    expect(got.body.kvs[0].version).toBe("1");

    const other = await send("idem/a", "1", "req-2");
    expect(Number(other.json().header.revision)).toBeGreaterThan(
      Number(first.json().header.revision),
    );
    for (const bad of ["", "no spaces", "x".repeat(65)]) {
      const res = await send("idem/a", "1", bad);
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe("INVALID_ARGUMENT");
    }
  });
});
