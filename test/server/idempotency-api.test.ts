import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorFromServer, IdempotencyKeyReusedError } from "../../src/client/errors.js";
import { b64, startCluster, waitFor } from "./cluster.js";
import { type SingleMember, startSingleMember } from "./single-member.js";

let member: SingleMember;

beforeAll(async () => {
  member = await startSingleMember();
});
afterAll(async () => {
  await member.stop();
});

async function post(url: string, payload: object, key?: string) {
  const res = await member.app.inject({
    method: "POST",
    url,
    payload,
    headers: key === undefined ? {} : { "idempotency-key": key },
  });
  return { status: res.statusCode, body: res.json() };
}

const value = async (key: string) => {
  const r = await post("/v3/kv/range", { key: b64(key) });
  // An empty answer has no `kvs` (etcd's gateway leaves empty fields out).
  const kvs: { value?: string }[] = r.body.kvs ?? [];
  return kvs.map((kv) => Buffer.from(kv.value ?? "", "base64").toString());
};

describe("idempotency keys over HTTP", () => {
  it("refuse a key reused for another request with 422 and apply nothing", async () => {
    const first = await post("/v3/kv/put", { key: b64("ik/a"), value: b64("1") }, "reuse-1");
    expect(first.status).toBe(200);
    const revision = first.body.header.revision;
    const reuses: [string, object][] = [
      ["/v3/kv/put", { key: b64("ik/a"), value: b64("2") }],
      ["/v3/kv/deleterange", { key: b64("ik/a") }],
      ["/v3/lease/grant", { TTL: 60 }],
      ["/v3/kv/txn", { success: [{ request_put: { key: b64("ik/b"), value: b64("x") } }] }],
    ];
    for (const [url, body] of reuses) {
      const answer = await post(url, body, "reuse-1");
      expect(answer.status, url).toBe(422);
      expect(answer.body.code).toBe("IDEMPOTENCY_KEY_REUSED");
      expect(answer.body.message).toContain("reuse-1");
    }
    expect(await value("ik/a")).toEqual(["1"]);
    expect(await value("ik/b")).toEqual([]);
    const leases = await post("/v3/lease/leases", {});
    expect(leases.body.leases).toEqual([]);
    const status = await post("/v3/maintenance/status", {});
    expect(status.body.header.revision).toBe(revision);
  });

  it("answer the same request under the same key with its first answer, in its own shape", async () => {
    await post("/v3/kv/put", { key: b64("ik/d"), value: b64("1") });
    const del = await post("/v3/kv/deleterange", { key: b64("ik/d"), prev_kv: true }, "del-1");
    expect(del.status).toBe(200);
    expect(del.body.deleted).toBe("1");
    const delRetry = await post("/v3/kv/deleterange", { key: b64("ik/d"), prev_kv: true }, "del-1");
    expect(delRetry).toEqual(del);

    const grant = await post("/v3/lease/grant", { TTL: 60 }, "grant-1");
    expect(grant.status).toBe(200);
    expect(grant.body.ID).toMatch(/^[1-9][0-9]*$/);
    expect(grant.body.TTL).toBe("60");
    expect(await post("/v3/lease/grant", { TTL: 60 }, "grant-1")).toEqual(grant);
    const leases = await post("/v3/lease/leases", {});
    expect(leases.body.leases).toEqual([{ ID: grant.body.ID }]);
  });

  it("reach the SDK as IdempotencyKeyReusedError", () => {
    const err = errorFromServer({ code: "IDEMPOTENCY_KEY_REUSED", message: "reused" }, 422);
    expect(err).toBeInstanceOf(IdempotencyKeyReusedError);
    expect(err.status).toBe(422);
  });
});

describe("idempotency keys on a three-member cluster", () => {
  it("leave every replica with the same state after a refused reuse", async () => {
    const cluster = await startCluster();
    try {
      const leader = await cluster.leader();
      const send = (url: string, payload: object) =>
        leader.app.inject({ method: "POST", url, payload, headers: { "idempotency-key": "k" } });
      expect((await send("/v3/kv/put", { key: b64("r/a"), value: b64("1") })).statusCode).toBe(200);
      expect((await send("/v3/kv/put", { key: b64("r/a"), value: b64("2") })).statusCode).toBe(422);
      expect((await send("/v3/kv/put", { key: b64("r/a"), value: b64("1") })).statusCode).toBe(200);
      // A write after them, so every replica has applied all three once it shows.
      const last = await leader.app.inject({
        method: "POST",
        url: "/v3/kv/put",
        payload: { key: b64("r/z"), value: b64("end") },
      });
      const revision = Number(last.json().header.revision);
      await waitFor(
        () =>
          cluster.members.every(
            (m) =>
              m.store.revision === revision &&
              m.store.appliedIndex === cluster.members[0]!.store.appliedIndex,
          ),
        "every replica to apply the same entries",
      );
      const snapshots = await Promise.all(
        cluster.members.map(async (m) => {
          const chunks: Uint8Array[] = [];
          for await (const chunk of m.store.snapshot()) chunks.push(chunk);
          return Buffer.concat(chunks).toString("base64");
        }),
      );
      // Same history, leases and remembered requests (digests included) everywhere.
      expect(new Set(snapshots).size).toBe(1);
      expect(revision).toBe(3);
    } finally {
      await cluster.stop();
    }
  });
});
