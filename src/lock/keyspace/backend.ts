import type {
  LeaseGrant,
  LeaseRef,
  LeaseRenewal,
  LeaseRequest,
  LockBackend,
  WaitControl,
} from "../backend.js";
import { type Clock, systemClock } from "../clock.js";
import { LockLostError, NotLockOwnerError } from "../errors.js";
import { observeLeaderByPolling } from "../observe.js";
import { acquireInSequence, ENTRY_LOST, type EntryLost } from "../sequenced/acquire.js";
import { type HeldLease, HeldLeases } from "../sequenced/held.js";
import { LocalLeaseEnd } from "../sequenced/lease-end.js";
import { BackendLifecycle } from "../sequenced/lifecycle.js";
import { waitForTurn } from "../sequenced/wait-turn.js";
import type { BackendGuarantees, LeaderSnapshot } from "../types.js";
import { positiveInteger } from "../validate.js";
import { QueueKeys, validateKeyPrefix } from "./keys.js";
import type { GrantedLease, LockKeyspace, QueueSnapshot } from "./port.js";
import { WaitingKeepAlive } from "./waiting-keepalive.js";

export const DEFAULT_KEY_PREFIX = "conclave/lock";

export interface KeyspaceLockBackendOptions {
  /** What the concrete backend guarantees (its name, partition behaviour). */
  readonly guarantees: BackendGuarantees;
  /** Prefix of every key. Default "conclave/lock". */
  readonly keyPrefix?: string | undefined;
  /**
   * Longest time a waiter or leader observer trusts its watch without
   * reading the queue again (insurance against a watch lost silently). Default 5000.
   */
  readonly recheckIntervalMs?: number | undefined;
  readonly clock?: Clock | undefined;
}

/** A lease this backend holds for the client. */
interface HeldKey extends HeldLease {
  readonly key: string;
  readonly createRevision: bigint;
  lease: GrantedLease;
}

/**
 * Locks on a key space with etcd v3 semantics (etcd itself, or Conclave),
 * after etcd's own concurrency recipes with the holes closed. Each
 * acquisition grants its own lease and puts one key,
 * `<prefix>/<namespace>/<name>/<kind>/<owner>`, attached to it. Keys of a
 * name queue by create_revision: a waiter watches only the deletion of the
 * key it waits behind (no thundering herd; FIFO), and the fencing token is
 * the key's create_revision, which the store never hands out twice. After any
 * wait the lease is renewed and the key re-read before the lock is granted:
 * a waiter whose lease ran out while it waited (a stalled process) must not
 * believe it holds the lock — the flaw Jepsen found in etcd's own lock.
 */
export class KeyspaceLockBackend implements LockBackend<bigint> {
  readonly guarantees: BackendGuarantees;
  readonly clock: Clock;
  readonly #store: LockKeyspace;
  readonly #keys: QueueKeys;
  readonly #recheckMs: number;
  readonly #held = new HeldLeases<HeldKey>();
  readonly #lifecycle: BackendLifecycle;
  readonly #label: string;

  /** The adapter is closed with the backend (it leaves alone a client it was handed). */
  constructor(keyspace: LockKeyspace, options: KeyspaceLockBackendOptions) {
    this.#keys = new QueueKeys(validateKeyPrefix(options.keyPrefix ?? DEFAULT_KEY_PREFIX));
    this.#recheckMs = positiveInteger(options.recheckIntervalMs ?? 5000, "recheckIntervalMs");
    this.clock = options.clock ?? systemClock;
    this.guarantees = options.guarantees;
    this.#store = keyspace;
    this.#label = keyspace.backendName;
    this.#lifecycle = new BackendLifecycle(`the ${this.#label} lock backend`);
  }

  acquire(request: LeaseRequest, wait: WaitControl): Promise<LeaseGrant<bigint>> {
    this.#lifecycle.checkOpen();
    const queuePrefix = this.#keys.queue(request.kind, request.name);
    return this.#lifecycle.track(
      acquireInSequence(this.clock, request, wait, {
        // A one-shot attempt creates no lease and no key when the lock is taken.
        look: async () => (await this.#store.readQueue(queuePrefix, request.name)).entries,
        attempt: () => this.#attempt(request, wait, queuePrefix),
      }),
    );
  }

  async extend(lease: LeaseRef, ttlMs: number): Promise<LeaseRenewal> {
    this.#lifecycle.checkOpen();
    const held = this.#held.toRenew(lease);
    if (ttlMs > held.lease.ttlMs) await this.#moveToLongerLease(held, lease.ownerId, ttlMs);
    const sentAtMs = this.clock.now();
    const leftMs = await this.#store.keepAlive(held.lease.id, lease.name);
    if (leftMs <= 0) {
      this.#held.forget(lease.ownerId, held);
      throw new LockLostError(lease.name, `${this.#label} says the lease expired or was revoked`);
    }
    const heldUntilMs = sentAtMs + Math.min(ttlMs, leftMs);
    if (!held.end.extendTo(heldUntilMs)) {
      throw new LockLostError(lease.name, "the lease ran out before its renewal was confirmed");
    }
    return { heldUntilMs };
  }

  async release(lease: LeaseRef): Promise<void> {
    this.#lifecycle.checkOpen();
    const held = this.#held.get(lease.ownerId);
    if (held === undefined || held.end.ended) throw new NotLockOwnerError(lease.name, "release");
    this.#held.forget(lease.ownerId, held);
    if (!(await this.#store.revokeLease(held.lease.id, lease.name))) {
      throw new NotLockOwnerError(lease.name, "release");
    }
  }

  async proclaim(lease: LeaseRef, value: string): Promise<void> {
    this.#lifecycle.checkOpen();
    const held = this.#held.get(lease.ownerId);
    if (held === undefined || held.end.ended || lease.kind !== "leader") {
      throw new NotLockOwnerError(lease.name, "proclaim on");
    }
    if (!(await this.#store.putIfCreated(held.key, held.createRevision, value, lease.name))) {
      throw new NotLockOwnerError(lease.name, "proclaim on");
    }
  }

  async readLeader(name: string): Promise<LeaderSnapshot<bigint> | undefined> {
    this.#lifecycle.checkOpen();
    const first = await this.#store.readFirst(this.#keys.queue("leader", name), name);
    return first === undefined
      ? undefined
      : { value: first.value, fencingToken: first.createRevision };
  }

  observeLeader(
    name: string,
    signal: AbortSignal,
  ): AsyncIterable<LeaderSnapshot<bigint> | undefined> {
    this.#lifecycle.checkOpen();
    return observeLeaderByPolling({
      clock: this.clock,
      signal: AbortSignal.any([signal, this.#lifecycle.closing]),
      maxPollMs: this.#recheckMs,
      read: async () => ({ snapshot: await this.readLeader(name) }),
      subscribe: (wake) => this.#store.watchChanges(this.#keys.queue("leader", name), wake, name),
    });
  }

  /**
   * Stops the local lease timers and watches, lets pending acquisitions
   * withdraw their keys, then closes the adapter (and the client if the
   * backend created it). Held leases are left to expire on the server.
   */
  async close(): Promise<void> {
    if (!this.#lifecycle.beginClose()) return;
    this.#held.forgetAll();
    await this.#lifecycle.settled();
    await this.#store.close();
  }

  async #attempt(
    request: LeaseRequest,
    wait: WaitControl,
    queuePrefix: string,
  ): Promise<LeaseGrant<bigint> | EntryLost> {
    const { name, kind } = request;
    const grantSentAtMs = this.clock.now();
    const lease = await this.#store.grantLease(request.ttlMs, name);
    const key = this.#keys.entry(kind, name, request.ownerId);
    const keeper = new WaitingKeepAlive(this.clock, this.#store, lease, name, grantSentAtMs);
    let granted = false;
    try {
      this.#lifecycle.throwIfStopped(wait, name);
      const created = await this.#store.createEntry(
        queuePrefix,
        key,
        request.value ?? request.ownerId,
        lease.id,
        name,
      );
      let seenRevision = created.revision;
      const turn = await waitForTurn<QueueSnapshot>({
        clock: this.clock,
        request,
        wait,
        recheckMs: this.#recheckMs,
        closing: this.#lifecycle.closing,
        mine: { id: key, position: created.createRevision },
        first: created,
        entriesOf: (snapshot) => snapshot.entries,
        startWaiting: () => keeper.start(),
        watch: (blocked, snapshot, _entries, wake) =>
          this.#store.watchDeletes(
            blocked.kind === "after" ? { key: blocked.predecessor.id } : { prefix: queuePrefix },
            snapshot.revision + 1n,
            wake,
          ),
        // The last snapshot held the waiter's key; a read at least that recent
        // decides as well as a linearizable one, one quorum round sooner.
        reread: async () => {
          const snapshot = await this.#store.readQueue(queuePrefix, name, seenRevision);
          seenRevision = snapshot.revision;
          return snapshot;
        },
        throwIfStopped: () => this.#lifecycle.throwIfStopped(wait, name),
      });
      if (turn === ENTRY_LOST) return ENTRY_LOST;
      let heldUntilMs = grantSentAtMs + Math.min(request.ttlMs, lease.ttlMs);
      if (turn.waited) {
        keeper.stop();
        // The lease may have run out while we waited. The read that granted the
        // turn saw the key; the last keep-alive the waiter sent proves its lease
        // (and so the key) lives until `confirmedMs`. When that leaves half a TTL
        // the grant stands on it, sparing the hand-off a round trip through the
        // log; otherwise renew now and prove the key survived.
        const confirmedMs = keeper.heldUntilMs(request.ttlMs);
        if (confirmedMs - this.clock.now() >= request.ttlMs / 2) {
          heldUntilMs = confirmedMs;
        } else {
          const sentAtMs = this.clock.now();
          const [leftMs, exists] = await Promise.all([
            this.#store.keepAlive(lease.id, name),
            this.#store.entryExists(key, created.createRevision, name),
          ]);
          if (leftMs <= 0 || !exists) return ENTRY_LOST;
          heldUntilMs = sentAtMs + Math.min(request.ttlMs, leftMs);
        }
        this.#lifecycle.throwIfStopped(wait, name);
      }
      const held = this.#hold(request, key, created.createRevision, lease, heldUntilMs);
      granted = true;
      return { fencingToken: created.createRevision, heldUntilMs, lost: held.lost.signal };
    } finally {
      keeper.stop();
      // Withdraw from the queue: revoking the lease deletes the key.
      if (!granted) await this.#store.revokeLease(lease.id, name).catch(() => false);
    }
  }

  #hold(
    request: LeaseRequest,
    key: string,
    createRevision: bigint,
    lease: GrantedLease,
    heldUntilMs: number,
  ): HeldKey {
    const lost = new AbortController();
    const held: HeldKey = {
      name: request.name,
      key,
      createRevision,
      lease,
      lost,
      end: new LocalLeaseEnd(this.clock, heldUntilMs, () => this.#giveUp(request.ownerId)),
      // Anything deleting the key (revocation by an operator, an expiry we did
      // not foresee) ends the lock at once.
      detach: this.#store.watchDeletes({ key }, createRevision + 1n, () =>
        lost.abort(new LockLostError(request.name, `its ${this.#label} key was deleted`)),
      ),
    };
    this.#held.set(request.ownerId, held);
    return held;
  }

  /** The lease ran out without a renewal: revoke it so the next waiter need not wait for the server's own expiry. */
  #giveUp(ownerId: string): void {
    const held = this.#held.giveUp(ownerId);
    if (held !== undefined) this.#store.revokeLease(held.lease.id, held.name).catch(() => false);
  }

  /**
   * etcd (and Conclave) cannot lengthen a lease's TTL; to renew for longer than it, the
   * key moves to a new lease (keeping its create_revision, so its place and
   * its fencing token) and the old lease is revoked.
   */
  async #moveToLongerLease(held: HeldKey, ownerId: string, ttlMs: number): Promise<void> {
    const next = await this.#store.grantLease(ttlMs, held.name);
    let moved = false;
    try {
      moved = await this.#store.moveEntry(held.key, held.createRevision, next.id, held.name);
    } finally {
      if (!moved) await this.#store.revokeLease(next.id, held.name).catch(() => false);
    }
    if (!moved) {
      this.#held.forget(ownerId, held);
      throw new LockLostError(held.name, `its ${this.#label} key no longer exists`);
    }
    const previous = held.lease;
    held.lease = next;
    await this.#store.revokeLease(previous.id, held.name).catch(() => false);
  }
}
