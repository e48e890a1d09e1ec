import type {
  LeaseGrant,
  LeaseRef,
  LeaseRenewal,
  LeaseRequest,
  LockBackend,
  WaitControl,
} from "../backend.js";
import { atInstant, type Clock } from "../clock.js";
import {
  BackendUnavailableError,
  LockAbortedError,
  LockClientClosedError,
  LockLostError,
  LockTimeoutError,
  NotLockOwnerError,
} from "../errors.js";
import { type BackendGuarantees, LEASE_KINDS, type LeaderSnapshot } from "../types.js";
import { type MemoryHolder, MemoryLockStore, type MemoryWaiter } from "./store.js";

export const MEMORY_GUARANTEES: BackendGuarantees = {
  backend: "memory",
  fencing: "strict",
  fair: true,
  reentrant: false,
  kinds: LEASE_KINDS,
  onHolderCrash: "expires-after-ttl",
  partition:
    "in-process, so no real partition; disconnect() simulates one: renewals fail, the holder's signal fires, and the lease runs out after ttlMs",
};

export interface MemoryLockBackendOptions {
  /** The shared state; backends built on one store contend with each other. Default: a new store. */
  store?: MemoryLockStore;
  /** Clock for a new store (ignored when `store` is given). */
  clock?: Clock;
}

/**
 * The in-memory backend: one process, exact FIFO fairness, strict fencing.
 * Meant for tests of code that uses locks: several backends over one
 * {@link MemoryLockStore} behave like several machines using one server, and
 * {@link disconnect} simulates losing that server.
 */
export class MemoryLockBackend implements LockBackend<bigint> {
  readonly guarantees = MEMORY_GUARANTEES;
  readonly store: MemoryLockStore;
  /** Pending waits, told why they must stop. */
  readonly #waiting = new Set<(error: Error) => void>();
  #connected = true;
  #closed = false;

  constructor(options: MemoryLockBackendOptions = {}) {
    this.store = options.store ?? new MemoryLockStore({ clock: options.clock });
  }

  get clock(): Clock {
    return this.store.clock;
  }

  /** Simulates losing the server: every call fails with BackendUnavailableError until reconnect(). */
  disconnect(): void {
    this.#connected = false;
    const error = new BackendUnavailableError("memory", "disconnected");
    for (const drop of [...this.#waiting]) drop(error);
  }

  reconnect(): void {
    this.#connected = true;
  }

  acquire(request: LeaseRequest, wait: WaitControl): Promise<LeaseGrant<bigint>> {
    this.#check(request.name);
    return new Promise((resolve, reject) => {
      let settled = false;
      let cancelTimer: (() => void) | undefined;
      const finish = () => {
        settled = true;
        cancelTimer?.();
        wait.signal.removeEventListener("abort", onAbort);
        this.#waiting.delete(onDisconnect);
      };
      const waiter: MemoryWaiter = {
        kind: request.kind,
        ownerId: request.ownerId,
        permits: request.permits ?? 1,
        ttlMs: request.ttlMs,
        value: request.value,
        grant: (holder) => {
          if (settled) return;
          finish();
          resolve(toGrant(holder));
        },
      };
      const giveUp = (error: Error) => {
        if (settled) return;
        finish();
        this.store.dequeue(waiter, request.name);
        reject(error);
      };
      const onAbort = () =>
        giveUp(new LockAbortedError(request.name, { cause: wait.signal.reason }));
      const onDisconnect = (error: Error) => giveUp(error);

      if (wait.signal.aborted) return onAbort();
      const mayQueue = wait.deadlineMs > this.clock.now();
      const outcome = this.store.request(waiter, request.name, mayQueue);
      if (outcome === "busy") {
        return reject(new LockTimeoutError(request.name, wait.waitMs));
      }
      if (outcome !== "queued") {
        settled = true;
        return resolve(toGrant(outcome));
      }
      wait.signal.addEventListener("abort", onAbort, { once: true });
      this.#waiting.add(onDisconnect);
      if (wait.deadlineMs !== Number.POSITIVE_INFINITY) {
        cancelTimer = atInstant(this.clock, wait.deadlineMs, () =>
          giveUp(new LockTimeoutError(request.name, wait.waitMs)),
        );
      }
      wait.onQueued();
    });
  }

  async extend(lease: LeaseRef, ttlMs: number): Promise<LeaseRenewal> {
    this.#check(lease.name);
    const heldUntilMs = this.store.extend(lease.kind, lease.name, lease.ownerId, ttlMs);
    if (heldUntilMs === undefined) {
      throw new LockLostError(lease.name, "the lease expired or passed to another owner");
    }
    return { heldUntilMs };
  }

  async release(lease: LeaseRef): Promise<void> {
    this.#check(lease.name);
    if (!this.store.release(lease.kind, lease.name, lease.ownerId)) {
      throw new NotLockOwnerError(lease.name, "release");
    }
  }

  async proclaim(lease: LeaseRef, value: string): Promise<void> {
    this.#check(lease.name);
    if (!this.store.proclaim(lease.name, lease.ownerId, value)) {
      throw new NotLockOwnerError(lease.name, "proclaim on");
    }
  }

  async readLeader(name: string): Promise<LeaderSnapshot<bigint> | undefined> {
    this.#check(name);
    return this.store.leader(name);
  }

  async *observeLeader(
    name: string,
    signal: AbortSignal,
  ): AsyncIterable<LeaderSnapshot<bigint> | undefined> {
    while (!signal.aborted) {
      this.#check(name);
      const version = this.store.leaderVersion(name);
      yield this.store.leader(name);
      await new Promise<void>((resolve) => {
        if (signal.aborted || this.store.leaderVersion(name) !== version) return resolve();
        const done = () => {
          unsubscribe();
          signal.removeEventListener("abort", done);
          this.#waiting.delete(done);
          resolve();
        };
        const unsubscribe = this.store.onLeaderChange(name, done);
        signal.addEventListener("abort", done, { once: true });
        this.#waiting.add(done);
      });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const error = new LockClientClosedError("the memory lock backend");
    for (const drop of [...this.#waiting]) drop(error);
  }

  #check(name: string): void {
    if (this.#closed) throw new LockClientClosedError("the memory lock backend");
    if (!this.#connected) throw new BackendUnavailableError("memory", "disconnected", name);
  }
}

function toGrant(holder: MemoryHolder): LeaseGrant<bigint> {
  return { fencingToken: holder.fencingToken, heldUntilMs: holder.expiresAtMs };
}
