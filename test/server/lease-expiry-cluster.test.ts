import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import {
  b64,
  ELECTION_MS,
  type Member,
  startCluster,
  type TestCluster,
  waitFor,
} from "./cluster.js";

/** Every server's lease clock; moved by the test only, so deadlines are exact. */
let fakeMs = 0;
/** The cluster's configured election timeout (test/server/cluster.ts). */

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({
    leaseExpiry: {
      clock: { now: () => fakeMs, setTimer: systemClock.setTimer },
      checkIntervalMs: 20,
    },
  });
  // The expiry loop starts when the app is ready, as `listen` would make it.
  await Promise.all(cluster.members.map((m) => m.app.ready()));
});
afterAll(async () => {
  await cluster.stop();
});

async function post(m: Member, url: string, payload: unknown) {
  const res = await m.app.inject({ method: "POST", url, payload: payload as object });
  return { status: res.statusCode, body: res.json() };
}

/** Waits until `m`'s expiry loop finished `n` more full checks. */
async function checksPass(m: Member, n = 2) {
  const from = m.app.leaseExpiry.checks;
  await waitFor(() => m.app.leaseExpiry.checks >= from + n, `${n} lease checks on ${m.id}`);
}

const keyOn = (m: Member, key: string) =>
  m.store.range({ key: new TextEncoder().encode(key) }).kvs.length === 1;
const leaseOn = (m: Member, id: number) => m.store.leases().some((l) => l.id === id);

async function grantWithKey(leader: Member, id: number, key: string) {
  const grant = await post(leader, "/v3/lease/grant", { TTL: 1, ID: id });
  expect(grant.status).toBe(200);
  const put = await post(leader, "/v3/kv/put", { key: b64(key), value: b64("v"), lease: id });
  expect(put.status).toBe(200);
  await waitFor(() => cluster.members.every((m) => keyOn(m, key)), `${key} on every node`);
}

describe("lease expiry in a cluster", () => {
  it("expires a 1 s lease without keepalives on every node, and keeps one that is kept alive", async () => {
    const leader = await cluster.leader();
    await waitFor(() => leader.app.leaseExpiry.isLeading(), "the leader's expiry loop");
    await grantWithKey(leader, 101, "exp/dies");
    await grantWithKey(leader, 102, "exp/lives");

    // Lease time moves in 600 ms steps, each followed by a keepalive of 102 on
    // whichever node leads (a takeover would only push 101's deadline later).
    const step = async () => {
      fakeMs += 600;
      const current = await cluster.leader();
      const ka = await post(current, "/v3/lease/keepalive", { ID: 102 });
      expect(ka.status).toBe(200);
      await checksPass(current);
    };
    for (let round = 0; round < 5; round++) await step();
    const deadline = Date.now() + 10_000;
    while (!cluster.members.every((m) => !keyOn(m, "exp/dies") && !leaseOn(m, 101))) {
      if (Date.now() > deadline) throw new Error("lease 101 was not expired on every node");
      await step();
    }
    for (const m of cluster.members) {
      expect(keyOn(m, "exp/lives")).toBe(true);
      expect(leaseOn(m, 102)).toBe(true);
    }
    const current = await cluster.leader();
    const ttl = await post(current, "/v3/lease/timetolive", { ID: 102 });
    expect(ttl.status).toBe(200);
    expect(ttl.body).toMatchObject({ ID: "102", TTL: "1", grantedTTL: "1" });
    expect(current.app.leaseExpiry.trackedCount).toBe(1);

    let expired = 0;
    for (const m of cluster.members) {
      const metrics = await m.app.inject({ method: "GET", url: "/metrics" });
      expired += Number(/^conclave_lease_expired_total (\d+)$/m.exec(metrics.body)?.[1]);
    }
    expect(expired).toBe(1);

    await post(current, "/v3/lease/revoke", { ID: 102 });
  });

  it("gives a new leader's inherited leases TTL plus an election timeout after takeover", async () => {
    const leader = await cluster.leader();
    await grantWithKey(leader, 201, "take/a");
    const takeoverMs = fakeMs;
    const [target] = await cluster.followers();
    await leader.node.transferLeadership(target!.id);
    await waitFor(() => target!.app.leaseExpiry.isLeading(), "the new leader's expiry loop");
    // Its first check confirms leadership (a ReadIndex) and promotes from the caught-up store.
    await checksPass(target!);

    // The old leader's deadline (takeoverMs + 1000) is not the one that counts now.
    fakeMs = takeoverMs + 1000 + ELECTION_MS - 1;
    await checksPass(target!);
    await checksPass(leader);
    for (const m of cluster.members) {
      expect(leaseOn(m, 201)).toBe(true);
      expect(keyOn(m, "take/a")).toBe(true);
    }
    const ttl = await post(target!, "/v3/lease/timetolive", { ID: 201 });
    expect(ttl.status).toBe(200);
    expect(ttl.body).toMatchObject({ TTL: "1", grantedTTL: "1" });
    // Only the leader's clock knows the deadline: followers redirect.
    const onFollower = await post(leader, "/v3/lease/timetolive", { ID: 201 });
    expect(onFollower.status).toBe(421);
    expect(onFollower.body).toMatchObject({ code: "NOT_LEADER", leader: target!.id });

    fakeMs = takeoverMs + 1000 + ELECTION_MS;
    await waitFor(
      () => cluster.members.every((m) => !keyOn(m, "take/a") && !leaseOn(m, 201)),
      "lease 201 expired by the new leader on every node",
    );
  });
});

describe("keep-alives renewed in the leader's memory", () => {
  it("adds no log entry on any node, and a follower sends the client to the leader", async () => {
    const leader = await cluster.leader();
    await waitFor(() => leader.app.leaseExpiry.isLeading(), "the leader's expiry loop");
    await grantWithKey(leader, 301, "mem/a");
    const indexes = () =>
      cluster.members.map((m) => {
        const st = m.node.status();
        return [st.lastIndex, st.commitIndex, st.appliedIndex];
      });
    await waitFor(() => new Set(indexes().map((i) => i.join())).size === 1, "every node caught up");
    const before = indexes();
    for (let i = 0; i < 5; i++) {
      const ka = await post(leader, "/v3/lease/keepalive", { ID: 301 });
      expect(ka.status).toBe(200);
      expect(ka.body).toMatchObject({ result: { ID: "301", TTL: "1" } });
    }
    expect(indexes()).toEqual(before);
    const follower = (await cluster.followers())[0]!;
    const onFollower = await post(follower, "/v3/lease/keepalive", { ID: 301 });
    expect(onFollower.status).toBe(421);
    expect(onFollower.body).toMatchObject({ code: "NOT_LEADER", leader: leader.id });
    const unknown = await post(leader, "/v3/lease/keepalive", { ID: 399 });
    expect(unknown.body).toMatchObject({ code: "KV_LEASE_NOT_FOUND" });
    await post(leader, "/v3/lease/revoke", { ID: 301 });
  });

  it("renews a batch behind one ReadIndex: TTL 0 for a lease it does not know, no log entry", async () => {
    const leader = await cluster.leader();
    await waitFor(() => leader.app.leaseExpiry.isLeading(), "the leader's expiry loop");
    await grantWithKey(leader, 311, "mem/b");
    await grantWithKey(leader, 312, "mem/c");
    const before = leader.node.status().lastIndex;
    const batch = await post(leader, "/v3/lease/keepalives", { IDs: [311, "312", 399, 311] });
    expect(batch.status).toBe(200);
    expect(batch.body.results).toEqual([
      { ID: "311", TTL: "1" },
      { ID: "312", TTL: "1" },
      { ID: "399", TTL: "0" },
      { ID: "311", TTL: "1" },
    ]);
    expect(leader.node.status().lastIndex).toBe(before);
    const follower = (await cluster.followers())[0]!;
    const onFollower = await post(follower, "/v3/lease/keepalives", { IDs: [311] });
    expect(onFollower.body).toMatchObject({ code: "NOT_LEADER", leader: leader.id });
    for (const bad of [
      { IDs: [] },
      { IDs: [0] },
      { IDs: Array(1001).fill(311) },
      {},
      { IDs: "311" },
    ]) {
      const refused = await post(leader, "/v3/lease/keepalives", bad);
      expect(refused.status, JSON.stringify(bad).slice(0, 40)).toBe(400);
    }
    await post(leader, "/v3/lease/revoke", { ID: 311 });
    await post(leader, "/v3/lease/revoke", { ID: 312 });
  });
});

describe("lease expiry on the real clock", () => {
  it("deletes a 1 s lease's keys on every node once it lapses", async () => {
    const real = await startCluster();
    try {
      await Promise.all(real.members.map((m) => m.app.ready()));
      const leader = await real.leader();
      const grant = await post(leader, "/v3/lease/grant", { TTL: 1 });
      const id = grant.body.ID as string;
      await post(leader, "/v3/kv/put", { key: b64("real/a"), value: b64("v"), lease: id });
      await waitFor(
        () => real.members.every((m) => m.store.leases().length === 0 && m.store.keyCount === 1),
        "the lease and its key gone on every node",
        10_000,
      );
      for (const m of real.members) {
        expect(m.store.range({ key: new TextEncoder().encode("real/a") }).kvs).toEqual([]);
      }
    } finally {
      await real.stop();
    }
  });
});
