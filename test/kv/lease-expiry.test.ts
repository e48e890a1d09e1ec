import { describe, expect, it } from "vitest";
import { systemClock } from "../../src/clock.js";
import {
  KvStore,
  LeaseExpiry,
  type LeaseExpiryOptions,
  LeaseNotFoundError,
} from "../../src/kv/index.js";
import type { LeaseCheckpoint } from "../../src/kv/types.js";
import { NotLeaderError } from "../../src/raft/core/errors.js";

const ELECTION_MS = 500;
const key = (s: string) => new TextEncoder().encode(s);

/**
 * A real store, a settable role/term and a settable clock: the loop with
 * nothing async in it unless a test holds checkpoint entries back.
 */
function harness(options: Partial<LeaseExpiryOptions> = {}) {
  const store = new KvStore();
  let index = 0;
  const st = { role: "follower", term: 1, leader: 0, nowMs: 0 };
  const revokes: number[] = [];
  const expired: number[] = [];
  let failRevokes = false;
  const aheadInLog: Parameters<KvStore["apply"]>[1][] = [];
  /** Every leaseCheckpoint entry proposed, in log order. */
  const checkpointEntries: LeaseCheckpoint[][] = [];
  /** While set, checkpoint entries wait in the log until release(). */
  let holdCheckpoints = false;
  const held: (() => void)[] = [];
  let confirm = async (): Promise<void> => {};
  const expiry = new LeaseExpiry(
    {
      status: () => ({ role: st.role, term: st.term, leader: st.leader }),
      leases: () => store.leaseRenewals(),
      lease: (id) => store.leaseState(id),
      confirmLeadership: () => confirm(),
      checkpoint: (checkpoints) => {
        checkpointEntries.push(checkpoints);
        const applyIt = () => store.apply(++index, { type: "leaseCheckpoint", checkpoints });
        if (!holdCheckpoints) return Promise.resolve(applyIt());
        return new Promise((resolve) => held.push(() => resolve(applyIt())));
      },
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
      ...options,
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
    checkpointEntries,
    holdCheckpoints: (v: boolean) => {
      holdCheckpoints = v;
    },
    /** Applies the held checkpoint entries, in log order. */
    release: () => {
      for (const applyIt of held.splice(0)) applyIt();
    },
    onConfirm: (fn: () => Promise<void>) => {
      confirm = fn;
    },
    /** Leader (in `term`), and caught up: a check's ReadIndex returned. */
    lead: async (term = st.term) => {
      st.role = "leader";
      st.term = term;
      await expiry.check();
    },
  };
}

/** Lets pending promise chains (a microtask-batched clear, its apply) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

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
    await h.expiry.check(); // caught up: its ReadIndex returned
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

  it("counts a legacy keep-alive entry as a fresh TTL from the moment it is applied", async () => {
    const h = harness();
    await h.lead();
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
    await h.lead();
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
    await h.expiry.check();
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
    await h.lead();
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
    await h.lead();
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
    await h.lead();
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
      lease: () => undefined,
      confirmLeadership: async () => {},
      checkpoint: async () => {},
      onLeaseApplied: () => () => {},
      revoke: async () => {},
    };
    expect(() => new LeaseExpiry(sources, { electionTimeoutMs: 1, checkIntervalMs: 0 })).toThrow(
      /checkIntervalMs/,
    );
    expect(() => new LeaseExpiry(sources, { electionTimeoutMs: -1 })).toThrow(/electionTimeoutMs/);
    expect(
      () => new LeaseExpiry(sources, { electionTimeoutMs: 1, checkpointIntervalMs: 0 }),
    ).toThrow(/checkpointIntervalMs/);
  });
});

describe("LeaseExpiry keep-alives in the leader's memory", () => {
  it("renews a lease on the leader without a log entry", async () => {
    const h = harness();
    await h.lead();
    h.grant(1, 1000);
    const applied = h.store.appliedIndex;
    h.st.nowMs = 800;
    expect(await h.expiry.keepAlive(1)).toEqual({ id: 1, ttlMs: 1000 });
    expect(h.store.appliedIndex).toBe(applied);
    expect(h.checkpointEntries).toEqual([]);
    expect(h.expiry.remainingMs(1)).toBe(1000);
    h.st.nowMs = 1799;
    await h.expiry.check();
    expect(h.alive(1)).toBe(true);
    h.st.nowMs = 1800;
    await h.expiry.check();
    expect(h.alive(1)).toBe(false);
  });

  it("refuses on a follower, and for unknown, expired or expiring leases", async () => {
    const h = harness();
    h.st.leader = 3;
    h.grant(1, 1000);
    const onFollower = await h.expiry.keepAlive(1).catch((e: unknown) => e);
    expect(onFollower).toBeInstanceOf(NotLeaderError);
    expect((onFollower as NotLeaderError).leaderHint).toBe(3);

    h.st.role = "leader";
    await expect(h.expiry.keepAlive(9)).rejects.toBeInstanceOf(LeaseNotFoundError);
    // Past its deadline (TTL and the takeover grace), before a check proposed the revoke.
    h.st.nowMs = 1000 + ELECTION_MS;
    await expect(h.expiry.keepAlive(1)).rejects.toBeInstanceOf(LeaseNotFoundError);
    // A revoke that failed leaves it in the store, past its deadline: still not renewed.
    h.failRevokes(true);
    await h.expiry.check();
    await expect(h.expiry.keepAlive(1)).rejects.toBeInstanceOf(LeaseNotFoundError);
    expect(h.alive(1)).toBe(true);
  });

  it("does not renew when the term changed during the ReadIndex", async () => {
    const h = harness();
    await h.lead();
    h.grant(1, 1000);
    h.onConfirm(async () => {
      h.st.term = 2;
    });
    await expect(h.expiry.keepAlive(1)).rejects.toBeInstanceOf(NotLeaderError);
  });

  it("checkpoints long leases, and a new leader starts from the checkpointed TTL", async () => {
    const h = harness({ checkpointIntervalMs: 1000 });
    await h.lead();
    h.grant(1, 5000);
    h.grant(2, 800); // no longer than the interval: never checkpointed
    h.st.nowMs = 999;
    await h.expiry.check();
    expect(h.checkpointEntries).toEqual([]);
    h.st.nowMs = 1000;
    await h.expiry.check();
    expect(h.checkpointEntries).toEqual([[[1, 4000]]]);
    expect(h.store.leaseState(1)).toMatchObject({ remainingMs: 4000 });
    h.st.nowMs = 1500;
    await h.expiry.check();
    expect(h.checkpointEntries).toHaveLength(1); // once an interval
    // A new leader gives the checkpointed 4000 ms, not a full TTL, plus its grace.
    h.st.term = 2;
    h.st.nowMs = 3000;
    expect(h.expiry.remainingMs(1)).toBe(4000 + ELECTION_MS);
    await h.expiry.check();
    h.st.nowMs = 3000 + 4000 + ELECTION_MS;
    await h.expiry.check();
    expect(h.alive(1)).toBe(false);
  });

  it("clears a checkpoint before acknowledging a renewal, with one entry for a turn's renewals", async () => {
    const h = harness({ checkpointIntervalMs: 1000 });
    await h.lead();
    h.grant(1, 5000);
    h.grant(2, 5000);
    h.st.nowMs = 1000;
    await h.expiry.check();
    expect(h.checkpointEntries).toEqual([
      [
        [1, 4000],
        [2, 4000],
      ],
    ]);
    h.st.nowMs = 1500;
    const both = await Promise.all([h.expiry.keepAlive(1), h.expiry.keepAlive(2)]);
    expect(both.map((r) => r.id)).toEqual([1, 2]);
    expect(h.checkpointEntries[1]).toEqual([
      [1, 5000],
      [2, 5000],
    ]);
    expect(h.store.leaseState(1)?.remainingMs).toBeUndefined();
    // Nothing stale left in the log: the next renewal costs no entry.
    await h.expiry.keepAlive(1);
    expect(h.checkpointEntries).toHaveLength(2);
    // A new leader gives the full TTL again.
    h.st.term = 2;
    expect(h.expiry.remainingMs(1)).toBe(5000 + ELECTION_MS);
  });

  it("answers a renewal only after a clear ordered behind a checkpoint still in flight", async () => {
    const h = harness({ checkpointIntervalMs: 1000 });
    await h.lead();
    h.grant(1, 5000);
    h.holdCheckpoints(true);
    h.st.nowMs = 1000;
    const checked = h.expiry.check();
    expect(h.checkpointEntries).toEqual([[[1, 4000]]]);
    expect(h.store.leaseState(1)?.remainingMs).toBeUndefined(); // not applied yet
    let answered = false;
    const renewed = h.expiry.keepAlive(1).then(() => {
      answered = true;
    });
    await settle();
    expect(h.checkpointEntries).toEqual([[[1, 4000]], [[1, 5000]]]);
    expect(answered).toBe(false);
    h.release();
    await renewed;
    await checked;
    expect(h.store.leaseState(1)?.remainingMs).toBeUndefined();
  });

  it("clears a checkpoint an earlier leader wrote", async () => {
    const h = harness();
    h.grant(1, 5000);
    h.apply({ type: "leaseCheckpoint", checkpoints: [[1, 200]] });
    await h.lead(2);
    expect(h.expiry.remainingMs(1)).toBe(200 + ELECTION_MS);
    await h.expiry.keepAlive(1);
    expect(h.checkpointEntries).toEqual([[[1, 5000]]]);
    expect(h.store.leaseState(1)?.remainingMs).toBeUndefined();
  });

  it("expires nothing until caught up, then starts from what the whole log says", async () => {
    const h = harness();
    h.grant(1, 5000);
    h.apply({ type: "leaseCheckpoint", checkpoints: [[1, 200]] });
    // Leader of term 2, but its ReadIndex has not returned: the clear an
    // earlier leader committed after that checkpoint is not applied here yet.
    let caughtUp!: () => void;
    h.onConfirm(() => new Promise((resolve) => (caughtUp = resolve)));
    h.st.role = "leader";
    h.st.term = 2;
    h.st.nowMs = 1000;
    expect(h.expiry.remainingMs(1)).toBe(200 + ELECTION_MS); // provisional
    h.st.nowMs = 2000; // past the provisional deadline
    const checked = h.expiry.check();
    h.apply({ type: "leaseCheckpoint", checkpoints: [[1, 5000]] });
    caughtUp();
    await checked;
    expect(h.revokes).toEqual([]);
    expect(h.expiry.remainingMs(1)).toBe(5000 + ELECTION_MS);
  });

  it("a lease granted in this term before catching up keeps its TTL, with no takeover margin", async () => {
    const h = harness();
    let caughtUp!: () => void;
    h.onConfirm(() => new Promise((resolve) => (caughtUp = resolve)));
    h.st.role = "leader";
    h.st.term = 2;
    h.st.nowMs = 1000;
    expect(h.expiry.isLeading()).toBe(true);
    const checked = h.expiry.check(); // its ReadIndex is still out
    h.grant(7, 60_000); // this leader's own grant, applied meanwhile
    expect(h.expiry.remainingMs(7)).toBe(60_000);
    h.st.nowMs = 1500;
    caughtUp();
    await checked;
    // Granted by this leader: a full TTL from the grant, never more.
    expect(h.expiry.remainingMs(7)).toBe(59_500);
  });

  it("a grant applied before the new leader's first look at its role gets no takeover margin", async () => {
    const h = harness();
    // Elected, and nothing has asked the expiry loop yet (no check, no call)
    // when the leader's own grant is applied.
    h.st.role = "leader";
    h.st.term = 3;
    h.st.nowMs = 1000;
    h.grant(9, 60_000);
    h.st.nowMs = 1200;
    expect(h.expiry.remainingMs(9)).toBe(59_800);
    await h.expiry.check();
    expect(h.expiry.remainingMs(9)).toBe(59_800);
  });
});
