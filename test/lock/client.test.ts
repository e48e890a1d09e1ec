/** The client front end over the in-memory backend with a manual clock: watchdog, loss signal, lifecycle. */
import { describe, expect, it } from "vitest";
import {
  BackendUnavailableError,
  type LeaseGrant,
  type LeaseRequest,
  type LockBackend,
  LockClient,
  LockClientClosedError,
  LockLostError,
  ManualClock,
  MEMORY_GUARANTEES,
  MemoryLockBackend,
  MemoryLockStore,
  type WaitControl,
} from "../../src/lock/index.js";

function setup() {
  const clock = new ManualClock();
  const store = new MemoryLockStore({ clock });
  const connect = () => new MemoryLockBackend({ store });
  return { clock, store, connect };
}

describe("lock client watchdog", () => {
  it("renews while held, so the lease outlives many TTLs", async () => {
    const { clock, store, connect } = setup();
    const locks = new LockClient(connect());
    const lock = await locks.acquire("job", { ttlMs: 300 });
    for (let i = 0; i < 20; i++) await clock.advance(50);
    expect(clock.now()).toBe(1000);
    expect(lock.held).toBe(true);
    expect(lock.signal.aborted).toBe(false);
    expect(store.holderCount("mutex", "job")).toBe(1);
    await lock.release();
    expect(store.holderCount("mutex", "job")).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it("fires the loss signal exactly one safety margin before the lease ends when renewals fail", async () => {
    const { clock, store, connect } = setup();
    const backend = connect();
    const locks = new LockClient(backend);
    const ttlMs = 1000;
    const marginMs = locks.safetyMarginMs(ttlMs);
    const lock = await locks.acquire("job", { ttlMs });
    backend.disconnect();
    await clock.advance(ttlMs - marginMs - 1);
    expect(lock.signal.aborted).toBe(false);
    await clock.advance(1);
    expect(lock.signal.aborted).toBe(true);
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    expect(lock.held).toBe(false);
    // At that instant the store still holds the old lease: nobody else can have it yet.
    expect(store.holderCount("mutex", "job")).toBe(1);
    const other = new LockClient(connect());
    expect(await other.tryAcquire("job")).toBeUndefined();
    await clock.advance(marginMs);
    expect(await other.tryAcquire("job")).toBeDefined();
  });

  it("without autoRenew, lets the lease run out after ttlMs", async () => {
    const { clock, connect } = setup();
    const locks = new LockClient(connect());
    const lock = await locks.acquire("job", { ttlMs: 200, autoRenew: false });
    await clock.advance(199);
    expect(await new LockClient(connect()).tryAcquire("job")).toBeUndefined();
    expect(lock.signal.aborted).toBe(true);
    await clock.advance(1);
    expect(await new LockClient(connect()).tryAcquire("job")).toBeDefined();
    await expect(lock.release()).rejects.toMatchObject({ code: "NOT_LOCK_OWNER" });
  });

  it("extends manually with a new TTL and rejects extend after release", async () => {
    const { clock, connect } = setup();
    const locks = new LockClient(connect());
    const lock = await locks.acquire("job", { ttlMs: 100, autoRenew: false });
    await clock.advance(80);
    await lock.extend(500);
    expect(lock.ttlMs).toBe(500);
    await clock.advance(300);
    expect(lock.held).toBe(true);
    await expect(lock.extend(5)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await lock.release();
    await expect(lock.extend()).rejects.toBeInstanceOf(LockLostError);
    expect(() => lock.assertHeld()).toThrow(LockLostError);
  });
});

describe("lock client lifecycle", () => {
  it("close() releases held locks, rejects pending waits and new acquisitions", async () => {
    const { connect } = setup();
    const a = new LockClient(connect());
    const b = new LockClient(connect());
    const held = await a.acquire("x");
    const heldByB = await b.acquire("y");
    const waiting = b.acquire("x");
    await b.close();
    await expect(waiting).rejects.toBeInstanceOf(LockClientClosedError);
    expect(heldByB.signal.aborted).toBe(true);
    await expect(b.acquire("z")).rejects.toBeInstanceOf(LockClientClosedError);
    expect(await a.tryAcquire("y")).toBeDefined();
    await held.release();
  });

  it("destroy() abandons locks like a crash: held until the TTL, signals aborted", async () => {
    const { clock, store, connect } = setup();
    const doomed = new LockClient(connect());
    const lock = await doomed.acquire("x", { ttlMs: 500 });
    await doomed.destroy();
    expect(lock.signal.aborted).toBe(true);
    expect(store.holderCount("mutex", "x")).toBe(1);
    await clock.advance(500);
    expect(store.holderCount("mutex", "x")).toBe(0);
  });

  it("tryAcquire returns undefined on contention but surfaces an unreachable backend", async () => {
    const { connect } = setup();
    const a = new LockClient(connect());
    const cut = connect();
    const b = new LockClient(cut);
    await a.acquire("x");
    expect(await b.tryAcquire("x")).toBeUndefined();
    cut.disconnect();
    await expect(b.tryAcquire("x")).rejects.toBeInstanceOf(BackendUnavailableError);
  });
});

describe("validity re-check after a wait", () => {
  /** A backend whose first grant arrives already expired (as after a long stall). */
  class StalledBackend implements LockBackend<bigint> {
    readonly guarantees = MEMORY_GUARANTEES;
    readonly clock = new ManualClock(1000);
    grants = 0;
    released: string[] = [];
    async acquire(request: LeaseRequest, _wait: WaitControl): Promise<LeaseGrant<bigint>> {
      this.grants += 1;
      const stale = this.grants === 1;
      return {
        fencingToken: BigInt(this.grants),
        heldUntilMs: this.clock.now() + (stale ? 0 : request.ttlMs),
      };
    }
    async extend(): Promise<{ heldUntilMs: number }> {
      return { heldUntilMs: this.clock.now() + 1000 };
    }
    async release(lease: { ownerId: string }): Promise<void> {
      this.released.push(lease.ownerId);
    }
    async proclaim(): Promise<void> {}
    async readLeader(): Promise<undefined> {
      return undefined;
    }
    async *observeLeader(): AsyncIterable<undefined> {}
    async close(): Promise<void> {}
  }

  it("gives back a grant that expired in transit and retries while waitMs allows", async () => {
    const backend = new StalledBackend();
    const locks = new LockClient(backend);
    const lock = await locks.acquire("x", { waitMs: 1000 });
    expect(backend.grants).toBe(2);
    expect(backend.released).toHaveLength(1);
    expect(lock.fencingToken).toBe(2n);
    await lock.release();
  });

  it("reports LockLostError when no wait is left", async () => {
    const backend = new StalledBackend();
    const locks = new LockClient(backend);
    await expect(locks.acquire("x", { waitMs: 0 })).rejects.toBeInstanceOf(LockLostError);
    expect(backend.released).toHaveLength(1);
  });
});
