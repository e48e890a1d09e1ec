import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FORWARDED_BY_HEADER } from "../../src/server/forward-identity.js";
import { freePort } from "../support/free-port.js";
import { b64, type Member, startCluster, text, waitFor } from "./cluster.js";
import { type HttpCluster, okJson, postJson, startHttpCluster } from "./http-cluster.js";
import { sampleValue, scrapeMetrics } from "./metric-sample.js";

let cluster: HttpCluster;
let leader: Member;
let follower: Member;
let other: Member;

beforeAll(async () => {
  cluster = await startHttpCluster();
  leader = await cluster.leader();
  [follower, other] = (await cluster.followers()) as [Member, Member];
});
afterAll(async () => {
  await cluster.stop();
});

const post = (m: Member, path: string, payload: unknown, headers?: Record<string, string>) =>
  postJson(cluster.urlOf(m.id), path, payload, headers);

const ok = (m: Member, path: string, payload: unknown, headers?: Record<string, string>) =>
  okJson(cluster.urlOf(m.id), path, payload, headers);

/** The value of `key` on every member once each has applied `revision`. */
async function valueEverywhere(key: string, revision: number): Promise<(string | undefined)[]> {
  await waitFor(
    () => cluster.members.every((m) => m.store.revision >= revision),
    `every member at revision ${revision}`,
  );
  return Promise.all(
    cluster.members.map(async (m) => {
      const r = await ok(m, "/v3/kv/range", { key: b64(key), serializable: true });
      return r.kvs?.[0] === undefined ? undefined : text(r.kvs[0].value);
    }),
  );
}

describe("a follower forwards what only the leader can do", () => {
  it("puts, runs a txn and deletes through a follower; every member sees the result", async () => {
    const put = await ok(follower, "/v3/kv/put", { key: b64("fw/a"), value: b64("1") });
    let revision = Number(put.header.revision);
    expect(await valueEverywhere("fw/a", revision)).toEqual(["1", "1", "1"]);

    const txn = await ok(other, "/v3/kv/txn", {
      compare: [{ key: b64("fw/a"), target: "VALUE", result: "EQUAL", value: b64("1") }],
      success: [{ request_put: { key: b64("fw/a"), value: b64("2") } }],
    });
    expect(txn.succeeded).toBe(true);
    revision = Number(txn.header.revision);
    expect(await valueEverywhere("fw/a", revision)).toEqual(["2", "2", "2"]);

    const del = await ok(follower, "/v3/kv/deleterange", { key: b64("fw/a") });
    expect(del.deleted).toBe("1");
    revision = Number(del.header.revision);
    expect(await valueEverywhere("fw/a", revision)).toEqual([undefined, undefined, undefined]);
  });

  it("forwards a raw value (/v3/kv/value) as its bytes, with its request id", async () => {
    const value = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31) & 0xff);
    const send = () =>
      fetch(`${cluster.urlOf(follower.id)}/v3/kv/value?key=${encodeURIComponent(b64("fw/raw"))}`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream", "idempotency-key": "fw-raw-1" },
        body: value,
      });
    const res = await send();
    expect(res.status).toBe(200);
    const revision = Number(
      ((await res.json()) as { header: { revision: string } }).header.revision,
    );
    const again = await send();
    expect(Number(((await again.json()) as { header: { revision: string } }).header.revision)).toBe(
      revision,
    );
    await waitFor(
      () => cluster.members.every((m) => m.store.revision >= revision),
      `every member at revision ${revision}`,
    );
    for (const m of cluster.members) {
      const r = await ok(m, "/v3/kv/range", { key: b64("fw/raw"), serializable: true });
      expect(Buffer.compare(Buffer.from(r.kvs[0].value, "base64"), Buffer.from(value))).toBe(0);
      expect(r.kvs[0].mod_revision).toBe(String(revision));
    }
  });

  it("compacts through a follower", async () => {
    const put = await ok(leader, "/v3/kv/put", { key: b64("fw/c"), value: b64("x") });
    const revision = Number(put.header.revision);
    await ok(follower, "/v3/kv/compaction", { revision: String(revision) });
    await waitFor(
      () => cluster.members.every((m) => m.store.compactRevision === revision),
      "every member compacted",
    );
  });

  it("grants, keeps alive, reads and revokes a lease through a follower", async () => {
    const grant = await ok(follower, "/v3/lease/grant", { TTL: "60" });
    const id = grant.ID as string;
    expect(grant.TTL).toBe("60");
    await waitFor(
      () => cluster.members.every((m) => m.store.leaseCount > 0),
      "the lease on every member",
    );
    const kept = await ok(other, "/v3/lease/keepalive", { ID: id });
    expect(kept.result).toMatchObject({ ID: id, TTL: "60" });
    const ttl = await ok(follower, "/v3/lease/timetolive", { ID: id });
    expect(ttl).toMatchObject({ ID: id, grantedTTL: "60" });
    expect(Number(ttl.TTL)).toBeGreaterThan(0);
    await ok(follower, "/v3/lease/revoke", { ID: id });
    await waitFor(
      () => cluster.members.every((m) => m.store.leaseCount === 0),
      "the lease gone from every member",
    );
  });

  it("lists members on a follower", async () => {
    const list = await ok(follower, "/v3/cluster/member/list", {});
    expect(list.members.map((m: { ID: string }) => m.ID).sort()).toEqual(["1", "2", "3"]);
  });

  it("applies an idempotent write retried through followers once", async () => {
    const headers = { "idempotency-key": "fw-retry-1" };
    const payload = { key: b64("fw/once"), value: b64("v") };
    const first = await ok(follower, "/v3/kv/put", payload, headers);
    const again = await ok(follower, "/v3/kv/put", payload, headers);
    const elsewhere = await ok(other, "/v3/kv/put", payload, headers);
    expect(again.header.revision).toBe(first.header.revision);
    expect(elsewhere.header.revision).toBe(first.header.revision);
    const range = await ok(leader, "/v3/kv/range", { key: b64("fw/once") });
    expect(range.kvs[0].version).toBe("1");
    expect(range.kvs[0].mod_revision).toBe(first.header.revision);
  });

  it("serves the SDK's writes on the follower it knows, without a redirect", async () => {
    const c = cluster.client({ endpoints: [cluster.urlOf(follower.id)] });
    await c.put("fw/sdk", "s");
    expect(c.preferredEndpoint).toBe(cluster.urlOf(follower.id));
    expect(
      (await cluster.client({ endpoints: [cluster.urlOf(leader.id)] }).get("fw/sdk"))?.valueString,
    ).toBe("s");
  });

  it("names the leader on a relayed answer, so an SDK that knows it goes there next", async () => {
    const res = await fetch(`${cluster.urlOf(follower.id)}/v3/kv/put`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: b64("fw/hint"), value: b64("h") }),
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(res.headers.get("conclave-leader-url")).toBe(cluster.urlOf(leader.id));
    const relayed = async () =>
      sampleValue(await scrapeMetrics(follower.app), "conclave_leader_forwards_total", {
        outcome: "relayed",
      }) ?? 0;
    const before = await relayed();
    const c = cluster.client({
      endpoints: [follower, leader, other].map((m) => cluster.urlOf(m.id)),
    });
    for (let i = 0; i < 5; i++) await c.put(`fw/hint/${i}`, "v");
    // The first put was relayed by the follower; the others went to the leader.
    expect(c.preferredEndpoint).toBe(cluster.urlOf(leader.id));
    expect((await relayed()) - before).toBe(1);
    // A hint naming an endpoint the client was not given moves nothing.
    const alone = cluster.client({ endpoints: [cluster.urlOf(follower.id)] });
    await alone.put("fw/hint/alone", "v");
    expect(alone.preferredEndpoint).toBe(cluster.urlOf(follower.id));
  });

  it("forwards a request injected in-process (as the gRPC API dispatches them)", async () => {
    const res = await follower.app.inject({
      method: "POST",
      url: "/v3/kv/put",
      payload: { key: b64("fw/inject"), value: b64("i") },
    });
    expect(res.statusCode).toBe(200);
    const revision = Number(res.json().header.revision);
    expect(await valueEverywhere("fw/inject", revision)).toEqual(["i", "i", "i"]);
  });

  it("never forwards a forwarded request again: it answers NOT_LEADER with the leader's URL", async () => {
    const r = await post(
      follower,
      "/v3/kv/put",
      { key: b64("fw/loop"), value: b64("x") },
      { [FORWARDED_BY_HEADER]: String(other.id) },
    );
    expect(r.status).toBe(421);
    expect(r.body).toMatchObject({
      code: "NOT_LEADER",
      leader: leader.id,
      leaderUrl: cluster.urlOf(leader.id),
    });
    const range = await ok(leader, "/v3/kv/range", { key: b64("fw/loop") });
    expect(range.kvs ?? []).toEqual([]);
  });

  it("relays the leader's error answers as they are", async () => {
    const r = await post(follower, "/v3/lease/revoke", { ID: "123456789" });
    expect(r.status).toBe(404);
    expect(r.body.code).toBe("KV_LEASE_NOT_FOUND");
  });

  it("raises and clears an alarm through followers", async () => {
    const raised = await ok(follower, "/v3/maintenance/alarm", {
      action: "ACTIVATE",
      memberID: String(follower.id),
      alarm: "NOSPACE",
    });
    expect(raised.alarms).toEqual([{ memberID: String(follower.id), alarm: "NOSPACE" }]);
    await waitFor(
      () => cluster.members.every((m) => m.store.alarms.has("NOSPACE")),
      "the alarm on every member",
    );
    await ok(other, "/v3/maintenance/alarm", {
      action: "DEACTIVATE",
      memberID: String(follower.id),
      alarm: "NOSPACE",
    });
    await waitFor(
      () => cluster.members.every((m) => !m.store.alarms.has("NOSPACE")),
      "the alarm cleared on every member",
    );
  });

  it("counts forwarded requests by outcome", async () => {
    const metrics = await scrapeMetrics(follower.app);
    expect(
      sampleValue(metrics, "conclave_leader_forwards_total", { outcome: "relayed" }),
    ).toBeGreaterThan(0);
    const onLeader = await scrapeMetrics(leader.app);
    expect(
      sampleValue(onLeader, "conclave_leader_forwards_total", { outcome: "relayed" }),
    ).toBeUndefined();
  });
});

describe("leadership transfer through a follower", () => {
  it("moves leadership to the member named", async () => {
    await ok(other, "/v3/maintenance/transfer-leadership", { targetID: String(follower.id) });
    await waitFor(
      () => cluster.members.every((m) => m.node.status().leader === follower.id),
      "every member following the new leader",
    );
    // The old leader is a follower now, and forwards in turn.
    const put = await ok(leader, "/v3/kv/put", { key: b64("fw/after"), value: b64("t") });
    expect(await valueEverywhere("fw/after", Number(put.header.revision))).toEqual(["t", "t", "t"]);
  });
});

describe("when forwarding is not possible, a follower answers NOT_LEADER as before", () => {
  it("with forwarding turned off", async () => {
    const off = await startCluster({
      maxLeaderForwards: 0,
      clientUrls: new Map([
        [1, "http://127.0.0.1:1"],
        [2, "http://127.0.0.1:1"],
        [3, "http://127.0.0.1:1"],
      ]),
    });
    try {
      const [f] = await off.followers();
      const res = await f!.app.inject({
        method: "POST",
        url: "/v3/kv/put",
        payload: { key: b64("k"), value: b64("v") },
      });
      expect(res.statusCode).toBe(421);
      expect(res.json()).toMatchObject({ code: "NOT_LEADER", leaderUrl: "http://127.0.0.1:1" });
    } finally {
      await off.stop();
    }
  });

  it("when the leader's client URL does not answer (nothing was sent)", async () => {
    // Ports nobody listens on: the connection is refused before any byte is sent.
    const urls = new Map<number, string>();
    for (const id of [1, 2, 3]) urls.set(id, `http://127.0.0.1:${await freePort()}`);
    const unreachable = await startCluster({ clientUrls: urls });
    try {
      const l = await unreachable.leader();
      const [f] = await unreachable.followers();
      const res = await f!.app.inject({
        method: "POST",
        url: "/v3/kv/put",
        payload: { key: b64("k"), value: b64("v") },
      });
      expect(res.statusCode).toBe(421);
      expect(res.json()).toMatchObject({ code: "NOT_LEADER", leaderUrl: urls.get(l.id) });
      expect(
        sampleValue(await scrapeMetrics(f!.app), "conclave_leader_forwards_total", {
          outcome: "not_reached",
        }),
      ).toBe(1);
    } finally {
      await unreachable.stop();
    }
  });
});
