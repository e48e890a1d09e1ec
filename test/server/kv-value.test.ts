import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authEnabledCluster, post, ROOT_PASSWORD, token } from "./auth-support.js";
import { b64, type Member, startCluster, type TestCluster } from "./cluster.js";

const MAX_VALUE = 256 * 1024;

/** A raw put: the value as the body, the key (and lease) in the query. */
async function rawPut(
  m: Member,
  key: string | Uint8Array,
  value: Uint8Array | string,
  o: { lease?: string; token?: string; contentType?: string; id?: string; query?: string } = {},
) {
  const query =
    o.query ??
    new URLSearchParams({
      key: Buffer.from(key).toString("base64"),
      ...(o.lease !== undefined && { lease: o.lease }),
    }).toString();
  const res = await m.app.inject({
    method: "POST",
    url: `/v3/kv/value?${query}`,
    headers: {
      "content-type": o.contentType ?? "application/octet-stream",
      ...(o.token !== undefined && { authorization: o.token }),
      ...(o.id !== undefined && { "idempotency-key": o.id }),
    },
    payload: typeof value === "string" ? value : Buffer.from(value),
  });
  return { status: res.statusCode, body: JSON.parse(res.body) };
}

/** Bytes that are not text: every byte value, zeros included. */
function binary(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7919) & 0xff);
}

async function stored(m: Member, key: string) {
  const r = await post(m, "/v3/kv/range", { key: b64(key) });
  const kv = r.body.kvs?.[0];
  return kv === undefined ? undefined : { value: Buffer.from(kv.value ?? "", "base64"), kv };
}

describe("POST /v3/kv/value", () => {
  let cluster: TestCluster;
  let leader: Member;
  let follower: Member;

  beforeAll(async () => {
    cluster = await startCluster({ maxValueBytes: MAX_VALUE, maxKeyBytes: 64 });
    leader = await cluster.leader();
    [follower] = (await cluster.followers()) as [Member];
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it("stores the body's bytes as the value, answering as /v3/kv/put does", async () => {
    const value = binary(MAX_VALUE);
    const before = leader.store.revision;
    const r = await rawPut(leader, "v/big", value);
    expect(r.status).toBe(200);
    expect(Number(r.body.header.revision)).toBe(before + 1);
    const json = await post(leader, "/v3/kv/put", { key: b64("v/json"), value: b64("x") });
    expect(Object.keys(r.body).sort()).toEqual(Object.keys(json.body).sort());
    const read = await stored(leader, "v/big");
    expect(Buffer.compare(read!.value, Buffer.from(value))).toBe(0);
    expect(read!.kv.version).toBe("1");
    // An empty body is an empty value, as an absent "value" is on /v3/kv/put.
    expect((await rawPut(leader, "v/empty", new Uint8Array(0))).status).toBe(200);
    expect((await stored(leader, "v/empty"))!.value.byteLength).toBe(0);
  });

  it("attaches the lease the query names, and refuses an unknown one as /v3/kv/put does", async () => {
    const grant = await post(leader, "/v3/lease/grant", { TTL: "60" });
    const r = await rawPut(leader, "v/leased", binary(100), { lease: grant.body.ID });
    expect(r.status).toBe(200);
    expect((await stored(leader, "v/leased"))!.kv.lease).toBe(grant.body.ID);
    const unknown = await rawPut(leader, "v/leased", binary(100), { lease: "777" });
    const viaJson = await post(leader, "/v3/kv/put", {
      key: b64("v/leased"),
      value: "",
      lease: "777",
    });
    expect(unknown.status).toBe(viaJson.status);
    expect(unknown.body.code).toBe(viaJson.body.code);
  });

  it("applies a retried request id once", async () => {
    const before = leader.store.revision;
    const first = await rawPut(leader, "v/once", binary(1000), { id: "raw-once" });
    const again = await rawPut(leader, "v/once", binary(1000), { id: "raw-once" });
    expect(again.body.header.revision).toBe(first.body.header.revision);
    expect(leader.store.revision).toBe(before + 1);
    // The same id with another value is a reuse, not a retry.
    const other = await rawPut(leader, "v/once", binary(999), { id: "raw-once" });
    expect(other.status).toBe(422);
  });

  it("refuses what /v3/kv/put refuses, and a body that is not raw bytes, changing nothing", async () => {
    const before = leader.store.revision;
    const tooBig = await rawPut(leader, "v/x", binary(MAX_VALUE + 1));
    expect([tooBig.status, tooBig.body.code]).toEqual([413, "VALUE_TOO_LARGE"]);
    const longKey = await rawPut(leader, "k".repeat(65), binary(10));
    expect([longKey.status, longKey.body.code]).toEqual([413, "KEY_TOO_LARGE"]);
    const badKey = await rawPut(leader, "", binary(10), { query: "key=a-b_" });
    expect(badKey.status).toBe(400);
    expect((await rawPut(leader, "", binary(10), { query: "" })).status).toBe(400);
    expect(
      (await rawPut(leader, "", binary(10), { query: `key=${b64("v/x")}&prev_kv=true` })).status,
    ).toBe(400);
    expect(
      (await rawPut(leader, "", binary(10), { query: `key=${b64("v/x")}&lease=-1` })).status,
    ).toBe(400);
    const asJson = await rawPut(leader, "v/x", JSON.stringify({ value: b64("x") }), {
      contentType: "application/json",
    });
    expect([asJson.status, asJson.body.code]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
    // Other routes still refuse raw bodies.
    const rawOnPut = await leader.app.inject({
      method: "POST",
      url: "/v3/kv/put",
      headers: { "content-type": "application/octet-stream" },
      payload: Buffer.from("x"),
    });
    expect(rawOnPut.statusCode).toBe(415);
    expect(leader.store.revision).toBe(before);
    expect(await stored(leader, "v/x")).toBeUndefined();
  });

  it("on a follower that cannot reach the leader, answers NOT_LEADER with the leader", async () => {
    const r = await rawPut(follower, "v/f", binary(10));
    expect(r.status).toBe(421);
    expect(r.body.code).toBe("NOT_LEADER");
    expect(r.body.leader).toBe(leader.id);
  });
});

describe("POST /v3/kv/value with auth enabled", () => {
  const cluster = authEnabledCluster();

  it("needs write permission on the key the query names", async () => {
    const leader = cluster.leader();
    const writer = await token(leader, "writer", "writer-password");
    const reader = await token(leader, "reader", "reader-password");
    const before = leader.store.revision;
    expect((await rawPut(leader, "z/1", binary(10), { token: writer })).status).toBe(403);
    expect((await rawPut(leader, "a/1", binary(10), { token: reader })).status).toBe(403);
    expect((await rawPut(leader, "a/1", binary(10))).status).toBe(401);
    expect(leader.store.revision).toBe(before);
    expect((await rawPut(leader, "a/1", binary(10), { token: writer })).status).toBe(200);
    const root = await token(leader, "root", ROOT_PASSWORD);
    expect((await rawPut(leader, "z/1", binary(10), { token: root })).status).toBe(200);
  });
});
