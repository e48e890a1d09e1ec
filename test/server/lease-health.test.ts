import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { b64, type Member, startCluster, type TestCluster, text, waitFor } from "./cluster.js";

let cluster: TestCluster;
let leader: Member;

beforeAll(async () => {
  cluster = await startCluster();
  leader = await cluster.leader();
});
afterAll(async () => {
  await cluster.stop();
});

async function post(m: Member, url: string, payload: unknown) {
  const res = await m.app.inject({ method: "POST", url, payload: payload as object });
  return { status: res.statusCode, body: res.json() };
}

describe("lease routes", () => {
  it("grants, attaches, reports, keeps alive and revokes a lease, deleting its keys", async () => {
    const grant = await post(leader, "/v3/lease/grant", { TTL: 30 });
    expect(grant.status).toBe(200);
    expect(grant.body.TTL).toBe("30");
    const id = grant.body.ID as string;
    expect(Number(id)).toBeGreaterThan(0);

    await post(leader, "/v3/kv/put", { key: b64("l/a"), value: b64("1"), lease: id });
    await post(leader, "/v3/kv/put", { key: b64("l/b"), value: b64("2"), lease: Number(id) });
    await post(leader, "/v3/kv/put", { key: b64("l/c"), value: b64("3") });

    const ttl = await post(leader, "/v3/lease/timetolive", { ID: id, keys: true });
    expect(ttl.status).toBe(200);
    expect(ttl.body.grantedTTL).toBe("30");
    expect(ttl.body.keys.map(text)).toEqual(["l/a", "l/b"]);

    const leases = await post(leader, "/v3/lease/leases", {});
    expect(leases.body.leases).toContainEqual({ ID: id });

    const ka = await post(leader, "/v3/lease/keepalive", { ID: id });
    expect(ka.body.result).toMatchObject({ ID: id, TTL: "30" });

    const revoke = await post(leader, "/v3/lease/revoke", { ID: id });
    expect(revoke.status).toBe(200);
    const left = await post(leader, "/v3/kv/range", { key: b64("l/"), range_end: b64("l0") });
    expect(left.body.kvs.map((kv: { key: string }) => text(kv.key))).toEqual(["l/c"]);

    const after = await post(leader, "/v3/lease/timetolive", { ID: id });
    expect(after.status).toBe(404);
    expect(after.body.code).toBe("KV_LEASE_NOT_FOUND");
    const put = await post(leader, "/v3/kv/put", { key: b64("l/d"), value: b64("4"), lease: id });
    expect(put.status).toBe(404);
    expect(put.body.code).toBe("KV_LEASE_NOT_FOUND");
  });

  it("rejects a zero or oversized TTL and a zero lease ID", async () => {
    for (const TTL of [0, 10 ** 12]) {
      const r = await post(leader, "/v3/lease/grant", { TTL });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe("INVALID_ARGUMENT");
    }
    const r = await post(leader, "/v3/lease/revoke", { ID: 0 });
    expect(r.status).toBe(400);
  });
});

describe("health, ready, status", () => {
  it("reports health, readiness and status on every node", async () => {
    for (const m of cluster.members) {
      const health = await m.app.inject({ method: "GET", url: "/health" });
      expect(health.statusCode).toBe(200);
      const status = await m.app.inject({ method: "GET", url: "/status" });
      expect(status.json()).toMatchObject({ id: m.id, leader: leader.id });
      expect(status.json().voters).toEqual([1, 2, 3]);
    }
    const ready = await leader.app.inject({ method: "GET", url: "/ready" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ ready: true, leader: leader.id });
  });

  it("is not ready when no leader is known, and answers 503 once the node is stopped", async () => {
    const solo = await startCluster();
    try {
      const l = await solo.leader();
      const [f1, f2] = await solo.followers();
      await l.node.stop();
      await f2!.node.stop();
      // Alone, f1 campaigns forever and never learns a leader.
      await waitFor(() => f1!.node.status().leader === 0, "f1 to lose its leader");
      const r = await f1!.app.inject({ method: "GET", url: "/ready" });
      expect(r.statusCode).toBe(503);
      expect(r.json().code).toBe("NOT_READY");
      await f1!.node.stop();
      const put = await f1!.app.inject({
        method: "POST",
        url: "/v3/kv/put",
        payload: { key: b64("x"), value: b64("y") },
      });
      expect(put.statusCode).toBe(503);
      expect(put.json().code).toBe("NODE_STOPPED");
    } finally {
      await solo.stop();
    }
  });
});
