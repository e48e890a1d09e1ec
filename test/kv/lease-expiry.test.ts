import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import { KvStore, LeaseExpiry } from "../../src/kv/index.js";

const ELECTION_MS = 500;
const key = (s: string) => new TextEncoder().encode(s);

/** A real store, a settable role/term and a settable clock: the loop with nothing async in it. */
function harness() {
  const store = new KvStore();
  let index = 0;
  const st = { role: "follower", term: 1, nowMs: 0 };
  const revokes: number[] = [];
  const expired: number[] = [];
  let failRevokes = false;
  const aheadInLog: Parameters<KvStore["apply"]>[1][] = [];
  const expiry = new LeaseExpiry(
    {
      status: () => ({ role: st.role, term: st.term }),
      leases: () => store.leases(),
      onLeaseApplied: (l) => store.onLeaseApplied(l),
      revoke: async (id, ifRenewals) => {
        revokes.push(id);
        if (failRevokes) throw new Error("proposal timed out");
        // Entries already in the log ahead of the revoke apply first.
        for (const command of aheadInLog.splice(0)) store.apply(++index, command);
        const r = store.apply(++index, { type: "leaseRevoke", id, ifRenewals });
        if (r.type === "error") throw r.error;
        return r;
      },
    },
    {
      clock: { now: () => st.nowMs, setTimer: systemClock.setTimer },
      electionTimeoutMs: ELECTION_MS,
      onExpired: (id) => expired.push(id),
    },
  );
  expiry.start();
  const apply = (command: Parameters<KvStore["apply"]>[1]) => {
    const r = store.apply(++index, command);
    if (r.type === "error") throw r.error;
    return r;
  };
  const grant = (id: number, ttlMs: number) => apply({ type: "leaseGrant", id, ttlMs });
  const alive = (id: number) => store.leases().some((l) => l.id === id);
  return {
    store,
    st,
    expiry,
    revokes,
    expired,
    apply,
    grant,
    alive,
    failRevokes: (v: boolean) => {
      failRevokes = v;
    },
    aheadInLog,
  };
}

describe("LeaseExpiry", () => {
  it("never expires anything on a follower", async () => {
    const h = harness();
    h.grant(1, 1000);
    h.st.nowMs = 60_000;
    await h.expiry.check();
    expect(h.revokes).toEqual([]);
    expect(h.expiry.isLeading()).toBe(false);
    expect(h.expiry.remainingMs(1)).toBeUndefined();
    expect(h.expiry.trackedCount).toBe(0);
  });

  it("revokes a lease on the leader once its TTL passed since the grant, deleting its keys", async () => {
    const h = harness();
    h.st.role = "leader";
    expect(h.expiry.isLeading()).toBe(true);
    h.st.nowMs = 100;
    h.grant(7, 1000);
    h.apply({ type: "put", key: key("k"), value: key("v"), lease: 7 });
    expect(h.expiry.remainingMs(7)).toBe(1000);
    h.st.nowMs = 1099;
    await h.expiry.check();
    expect(h.revokes).toEqual([]);
    h.st.nowMs = 1100;
    await h.expiry.check();
    expect(h.revokes).toEqual([7]);
    expect(h.expired).toEqual([7]);
    expect(h.alive(7)).toBe(false);
    expect(h.store.keyCount).toBe(1); // history of the deleted key only
    expect(h.store.range({ key: key("k") }).kvs).toEqual([]);
    expect(h.expiry.trackedCount).toBe(0);
  });

  it("counts a keepalive as a fresh TTL from the moment it is applied", async () => {
    const h = harness();
    h.st.role = "leader";
    h.expiry.isLeading();
    h.grant(1, 1000);
    h.st.nowMs = 800;
    h.apply({ type: "leaseKeepAlive", id: 1 });
    h.st.nowMs = 1500;
    await h.expiry.check();
    expect(h.alive(1)).toBe(true);
    expect(h.expiry.remainingMs(1)).toBe(300);
    h.st.nowMs = 1800;
    await h.expiry.check();
    expect(h.alive(1)).toBe(false);
  });

  it("keeps a lease whose keep-alive was in the log ahead of the expiry revoke", async () => {
    const h = harness();
    h.st.role = "leader";
    h.expiry.isLeading();
    h.grant(1, 1000);
    h.apply({ type: "put", key: key("lock"), value: key("holder"), lease: 1 });
    // The deadline passes while a keep-alive is proposed but not yet applied
    // (a partition healing): the revoke is decided behind it in the log.
    h.aheadInLog.push({ type: "leaseKeepAlive", id: 1 });
    h.st.nowMs = 1000;
    await h.expiry.check();
    expect(h.revokes).toEqual([1]);
    expect(h.alive(1)).toBe(true);
    expect(h.store.range({ key: key("lock") }).kvs).toHaveLength(1);
    expect(h.expired).toEqual([]);
    // The keep-alive gave it a full TTL from when it was applied.
    expect(h.expiry.remainingMs(1)).toBe(1000);
    h.st.nowMs = 2000;
    await h.expiry.check();
    expect(h.alive(1)).toBe(false);
    expect(h.expired).toEqual([1]);
  });

  it("gives inherited leases TTL plus an election timeout after a takeover", async () => {
    const h = harness();
    h.grant(1, 1000);
    h.grant(2, 5000);
    h.st.nowMs = 10_000;
    h.st.role = "leader";
    h.st.term = 2;
    expect(h.expiry.remainingMs(1)).toBe(1000 + ELECTION_MS);
    h.st.nowMs = 10_000 + 1000 + ELECTION_MS - 1;
    await h.expiry.check();
    expect(h.revokes).toEqual([]);
    h.st.nowMs += 1;
    await h.expiry.check();
    expect(h.revokes).toEqual([1]);
    expect(h.alive(2)).toBe(true);
  });

  it("stops expiring when leadership is lost, and starts over in a later term", async () => {
    const h = harness();
    h.st.role = "leader";
    h.expiry.isLeading();
    h.grant(1, 1000);
    h.st.role = "follower";
    h.st.nowMs = 5000;
    await h.expiry.check();
    expect(h.revokes).toEqual([]);
    // Leader again in a new term without a check in between noticing the loss.
    h.st.role = "leader";
    h.st.term = 3;
    await h.expiry.check();
    expect(h.revokes).toEqual([]);
    expect(h.expiry.remainingMs(1)).toBe(1000 + ELECTION_MS);
    h.st.term = 4; // a new term restarts the deadlines even if no check saw a follower
    h.st.nowMs = 6000;
    expect(h.expiry.remainingMs(1)).toBe(1000 + ELECTION_MS);
  });

  it("forgets a lease another revoke removed, and retries a revoke that failed", async () => {
    const h = harness();
    h.st.role = "leader";
    h.expiry.isLeading();
    h.grant(1, 1000);
    h.grant(2, 1000);
    h.apply({ type: "leaseRevoke", id: 2 });
    expect(h.expiry.trackedCount).toBe(1);

    h.failRevokes(true);
    h.st.nowMs = 1000;
    await h.expiry.check();
    expect(h.revokes).toEqual([1]);
    expect(h.alive(1)).toBe(true);
    h.failRevokes(false);
    await h.expiry.check();
    expect(h.revokes).toEqual([1, 1]);
    expect(h.alive(1)).toBe(false);
    expect(h.expired).toEqual([1]);
  });

  it("treats a revoke of an already-gone lease as done", async () => {
    const h = harness();
    h.grant(3, 1000);
    h.st.role = "leader";
    h.expiry.isLeading();
    expect(h.expiry.trackedCount).toBe(1);
    // Gone without a revoke being applied: a snapshot restore replaces the leases.
    await h.store.restore(new KvStore().snapshot());
    expect(h.alive(3)).toBe(false);
    h.st.nowMs = 10_000;
    await h.expiry.check();
    expect(h.revokes).toEqual([3]); // answered KV_LEASE_NOT_FOUND
    expect(h.expired).toEqual([]);
    expect(h.expiry.trackedCount).toBe(0);
    await h.expiry.check();
    expect(h.revokes).toEqual([3]);
  });

  it("rejects a non-positive check interval", () => {
    const sources = {
      status: () => ({ role: "follower", term: 0 }),
      leases: () => [],
      onLeaseApplied: () => () => {},
      revoke: async () => {},
    };
    expect(() => new LeaseExpiry(sources, { electionTimeoutMs: 1, checkIntervalMs: 0 })).toThrow(
      /checkIntervalMs/,
    );
    expect(() => new LeaseExpiry(sources, { electionTimeoutMs: -1 })).toThrow(/electionTimeoutMs/);
  });
});
