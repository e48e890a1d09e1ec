import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { RECORD_OVERHEAD_BYTES, REVISION_COMPACTION_INTERVAL_MS } from "../../src/kv/index.js";
import { b64, type Member, startCluster, waitFor } from "./cluster.js";
import { type SingleMember, startSingleMember } from "./single-member.js";

/** Room for exactly three 100-byte values under 2-byte keys, and not a fourth. */
const RECORD_BYTES = 2 + 100 + RECORD_OVERHEAD_BYTES;
const QUOTA_BYTES = 3 * RECORD_BYTES + RECORD_BYTES - 1;

let member: SingleMember;

beforeAll(async () => {
  member = await startSingleMember({ quotaBackendBytes: QUOTA_BYTES });
});
afterAll(async () => {
  await member.stop();
});

async function post(url: string, payload: unknown) {
  const res = await member.app.inject({ method: "POST", url, payload: payload as object });
  return { status: res.statusCode, body: res.json() };
}

const put = (key: string) => post("/v3/kv/put", { key: b64(key), value: b64("v".repeat(100)) });
/** A put carrying an idempotency key, as the SDK sends every write. */
async function keyedPut(key: string, requestId: string) {
  const res = await member.app.inject({
    method: "POST",
    url: "/v3/kv/put",
    headers: { "idempotency-key": requestId },
    payload: { key: b64(key), value: b64("v".repeat(100)) },
  });
  return { status: res.statusCode, body: res.json() };
}
const alarms = async () => (await post("/v3/maintenance/alarm", { action: "GET" })).body.alarms;

describe("backend quota and the NOSPACE alarm", () => {
  it("refuses the write that would pass the quota, raises NOSPACE, and recovers after compaction and disarm", async () => {
    const first = await keyedPut("k1", "put-k1");
    expect(first.status).toBe(200);
    for (const key of ["k2", "k3"]) expect((await put(key)).status).toBe(200);
    expect(await alarms()).toEqual([]);

    const refused = await put("k4");
    expect(refused.status).toBe(507);
    expect(refused.body).toMatchObject({ code: "KV_NOSPACE" });
    expect(refused.body.message).toMatch(/^database space exceeded/);
    expect(await alarms()).toEqual([{ memberID: "1", alarm: "NOSPACE" }]);
    const metrics = (await member.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(metrics).toMatch(/^conclave_kv_nospace_alarm 1$/m);
    expect(metrics).toContain(`conclave_kv_size_bytes ${3 * RECORD_BYTES}\n`);

    // While raised, what takes space is refused by every replica's apply, even a small write.
    const small = await post("/v3/kv/put", { key: b64("s"), value: b64("") });
    expect(small).toMatchObject({ status: 507, body: { code: "KV_NOSPACE" } });
    expect((await post("/v3/lease/grant", { TTL: 10 })).status).toBe(507);
    const txn = await post("/v3/kv/txn", {
      success: [{ request_put: { key: b64("t"), value: b64("1") } }],
    });
    expect(txn.status).toBe(507);
    // A retry of a write applied before the alarm is answered with its first result,
    // a new write under an idempotency key is refused like any other.
    expect(await keyedPut("k1", "put-k1")).toEqual(first);
    expect(await keyedPut("k9", "put-k9")).toMatchObject({
      status: 507,
      body: { code: "KV_NOSPACE" },
    });

    // Reads, deletes and compaction still work, and compaction gives the space back.
    const range = await post("/v3/kv/range", { key: b64("k1") });
    expect(range).toMatchObject({ status: 200, body: { count: "1" } });
    const del = await post("/v3/kv/deleterange", { key: b64("k"), range_end: b64("l") });
    expect(del).toMatchObject({ status: 200, body: { deleted: "3" } });
    const status = async () => (await post("/v3/maintenance/status", {})).body;
    const beforeCompaction = Number((await status()).dbSize);
    const revision = Number(del.body.header.revision);
    expect((await post("/v3/kv/compaction", { revision })).status).toBe(200);
    expect(Number((await status()).dbSize)).toBeLessThan(beforeCompaction);
    expect(Number((await status()).dbSize)).toBe(0);

    // Still raised until an operator disarms it.
    expect((await put("k5")).status).toBe(507);
    const disarm = await post("/v3/maintenance/alarm", {
      action: "DEACTIVATE",
      memberID: "1",
      alarm: "NOSPACE",
    });
    expect(disarm).toMatchObject({
      status: 200,
      body: { alarms: [{ memberID: "1", alarm: "NOSPACE" }] },
    });
    expect(await alarms()).toEqual([]);
    expect((await put("k5")).status).toBe(200);
  });

  it("takes etcd's enum numbers and names, and refuses incomplete changes", async () => {
    const activate = await post("/v3/maintenance/alarm", { action: 1, memberID: 7, alarm: 2 });
    expect(activate.body.alarms).toEqual([{ memberID: "7", alarm: "CORRUPT" }]);
    expect((await post("/v3/maintenance/alarm", { alarm: "CORRUPT" })).body.alarms).toEqual([
      { memberID: "7", alarm: "CORRUPT" },
    ]);
    expect((await post("/v3/maintenance/alarm", { alarm: "NOSPACE" })).body.alarms).toEqual([]);
    // Not a NOSPACE alarm: writes go on.
    expect((await put("k6")).status).toBe(200);
    await post("/v3/maintenance/alarm", { action: "DEACTIVATE", memberID: "7", alarm: "CORRUPT" });
    expect(await alarms()).toEqual([]);

    for (const bad of [
      { action: "DEACTIVATE", alarm: "NOSPACE" },
      { action: "ACTIVATE", memberID: "1" },
      { action: "RAISE", memberID: "1", alarm: "NOSPACE" },
      { action: 3, memberID: "1", alarm: "NOSPACE" },
      { action: "GET", extra: true },
    ]) {
      const res = await post("/v3/maintenance/alarm", bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
  });
});

describe("auto-compaction on the server", () => {
  it("compacts by revision on the leader's clock", async () => {
    const clock = new ManualClock();
    const m = await startSingleMember({
      autoCompaction: { mode: "revision", retainRevisions: 2, clock },
    });
    try {
      await m.app.ready();
      for (let i = 0; i < 5; i++) {
        await m.app.inject({
          method: "POST",
          url: "/v3/kv/put",
          payload: { key: b64("a"), value: b64(String(i)) },
        });
      }
      expect(m.store.revision).toBe(6);
      await clock.advance(REVISION_COMPACTION_INTERVAL_MS);
      await waitFor(() => m.store.compactRevision === 4, "the auto-compaction to apply");
    } finally {
      await m.stop();
    }
  });
});

describe("the NOSPACE alarm in a cluster", () => {
  it("a follower sends an over-quota write to the leader, which raises the alarm every replica applies", async () => {
    const cluster = await startCluster({ quotaBackendBytes: RECORD_BYTES });
    try {
      const leader = await cluster.leader();
      const [follower] = await cluster.followers();
      const putOn = async (m: Member, key: string) => {
        const res = await m.app.inject({
          method: "POST",
          url: "/v3/kv/put",
          payload: { key: b64(key), value: b64("v".repeat(100)) },
        });
        return { status: res.statusCode, body: res.json() };
      };
      expect((await putOn(leader, "k1")).status).toBe(200);
      await waitFor(() => follower!.store.sizeBytes === RECORD_BYTES, "k1 on the follower");
      // The follower, past the quota too, cannot propose the alarm: it answers NOT_LEADER and raises nothing.
      const redirected = await putOn(follower!, "k2");
      expect(redirected).toMatchObject({ status: 421, body: { code: "NOT_LEADER" } });
      expect(leader.store.alarms.list()).toEqual([]);
      expect((await putOn(leader, "k2")).status).toBe(507);
      const raised = [{ memberId: leader.id, alarm: "NOSPACE" }];
      await waitFor(
        () => cluster.members.every((m) => m.store.alarms.list().length === 1),
        "every replica to apply the alarm",
      );
      for (const m of cluster.members) expect(m.store.alarms.list()).toEqual(raised);
    } finally {
      await cluster.stop();
    }
  });
});
