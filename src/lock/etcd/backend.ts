import { Etcd3, type IOptions } from "etcd3";
import { InvalidArgumentError } from "../../errors.js";
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
import { type BackendGuarantees, LEASE_KINDS, type LeaderSnapshot } from "../types.js";
import { positiveInteger } from "../validate.js";
import { EtcdKeys, validateEtcdKeyPrefix } from "./keys.js";
import { EtcdStore, type GrantedLease, type QueueSnapshot } from "./store.js";

export interface EtcdLockBackendOptions {
  /**
   * An etcd3 client to use (not closed by the backend), or the client
   * options / "host:port" endpoint(s) for one the backend creates and closes.
   */
  etcd: Etcd3 | IOptions | string | readonly string[];
  /** Prefix of every key. Default "conclave/lock". */
  keyPrefix?: string;
  /** A request without a reply after this long fails with BackendUnavailableError. Default 2000. */
  operationTimeoutMs?: number;
  /**
   * Longest time a waiter or leader observer trusts its watch without
   * reading the queue again (insurance against a watch lost silently). Default 5000.
   */
  recheckIntervalMs?: number;
  clock?: Clock;
}

export const ETCD_GUARANTEES: BackendGuarantees = {
  backend: "etcd",
  fencing: "strict",
  fair: true,
  reentrant: false,
  kinds: LEASE_KINDS,
  onHolderCrash: "expires-after-ttl",
  partition:
    "a holder cut off from the etcd quorum cannot keep its lease alive; its signal fires a safety margin before the lease could end, and etcd deletes its key, waking the next waiter, once the lease TTL (ttlMs rounded up to whole seconds) passes without a keep-alive",
};

/** A lease this backend holds for the client. */
interface HeldKey extends HeldLease {
  readonly key: string;
  readonly createRevision: bigint;
  lease: GrantedLease;
}

/**
 * Locks on etcd v3, after etcd's own concurrency recipes with the holes
 * closed. Each acquisition grants its own lease and puts one key,
 * `<prefix>/<namespace>/<name>/<kind>/<owner>`, attached to it. Keys of a
 * name queue by create_revision: a waiter watches only the deletion of the
 * key it waits behind (no thundering herd; FIFO), and the fencing token is
 * the key's create_revision, which etcd never hands out twice. After any
 * wait the lease is renewed and the key re-read before the lock is granted:
 * a waiter whose lease ran out while it waited (a stalled process) must not
 * believe it holds the lock — the flaw Jepsen found in etcd's own lock.
 */
export class EtcdLockBackend implements LockBackend<bigint> {
  readonly guarantees = ETCD_GUARANTEES;
  readonly clock: Clock;
  readonly #store: EtcdStore;
  readonly #keys: EtcdKeys;
  readonly #ownsClient: boolean;
  readonly #recheckMs: number;
  readonly #held = new HeldLeases<HeldKey>();
  readonly #lifecycle = new BackendLifecycle("the etcd lock backend");

  constructor(options: EtcdLockBackendOptions) {
    this.#keys = new EtcdKeys(validateEtcdKeyPrefix(options.keyPrefix ?? "conclave/lock"));
    const timeoutMs = positiveInteger(options.operationTimeoutMs ?? 2000, "operationTimeoutMs");
    this.#recheckMs = positiveInteger(options.recheckIntervalMs ?? 5000, "recheckIntervalMs");
    this.clock = options.clock ?? systemClock;
    const etcd = validateEtcdOption(options?.etcd);
    let client: Etcd3;
    if (etcd instanceof Etcd3) {
      client = etcd;
      this.#ownsClient = false;
    } else {
      client = new Etcd3(isEndpointList(etcd) ? { hosts: endpoints(etcd) } : etcd);
      this.#ownsClient = true;
    }
    this.#store = new EtcdStore(client, timeoutMs);
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
      throw new LockLostError(lease.name, "etcd says the lease expired or was revoked");
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
   * withdraw their keys, then closes the client if the backend created it.
   * Held leases are left to expire on the server.
   */
  async close(): Promise<void> {
    if (!this.#lifecycle.beginClose()) return;
    this.#held.forgetAll();
    await this.#lifecycle.settled();
    if (this.#ownsClient) this.#store.client.close();
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
    const keeper = new WaitingKeepAlive(this.clock, this.#store, lease, name);
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
        reread: () => this.#store.readQueue(queuePrefix, name),
        throwIfStopped: () => this.#lifecycle.throwIfStopped(wait, name),
      });
      if (turn === ENTRY_LOST) return ENTRY_LOST;
      let heldUntilMs = grantSentAtMs + Math.min(request.ttlMs, lease.ttlMs);
      if (turn.waited) {
        keeper.stop();
        // The lease may have run out while we waited; renew it and prove the key survived.
        const sentAtMs = this.clock.now();
        const leftMs = await this.#store.keepAlive(lease.id, name);
        if (leftMs <= 0) return ENTRY_LOST;
        if (!(await this.#store.entryExists(key, created.createRevision, name))) {
          return ENTRY_LOST;
        }
        heldUntilMs = sentAtMs + Math.min(request.ttlMs, leftMs);
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
        lost.abort(new LockLostError(request.name, "its etcd key was deleted")),
      ),
    };
    this.#held.set(request.ownerId, held);
    return held;
  }

  /** The lease ran out without a renewal: revoke it so the next waiter need not wait for etcd's own expiry. */
  #giveUp(ownerId: string): void {
    const held = this.#held.giveUp(ownerId);
    if (held !== undefined) this.#store.revokeLease(held.lease.id, held.name).catch(() => false);
  }

  /**
   * etcd cannot lengthen a lease's TTL; to renew for longer than it, the
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
      throw new LockLostError(held.name, "its etcd key no longer exists");
    }
    const previous = held.lease;
    held.lease = next;
    await this.#store.revokeLease(previous.id, held.name).catch(() => false);
  }
}

/** Keeps a queued waiter's lease (and so its place) alive from `start` until `stop`. */
class WaitingKeepAlive {
  readonly #clock: Clock;
  readonly #store: EtcdStore;
  readonly #lease: GrantedLease;
  readonly #name: string;
  /** Aborts when etcd says the lease is gone (the waiter lost its place). */
  readonly #expired = new AbortController();
  #stopped = false;
  #cancelTimer = () => {};

  constructor(clock: Clock, store: EtcdStore, lease: GrantedLease, name: string) {
    this.#clock = clock;
    this.#store = store;
    this.#lease = lease;
    this.#name = name;
  }

  /** Starts renewing; returns the signal that aborts when the lease is gone. */
  start(): AbortSignal {
    this.#schedule();
    return this.#expired.signal;
  }

  stop(): void {
    this.#stopped = true;
    this.#cancelTimer();
  }

  #schedule(): void {
    this.#cancelTimer = this.#clock.setTimer(() => {
      this.#store
        .keepAlive(this.#lease.id, this.#name)
        .then(
          (leftMs) => {
            if (leftMs <= 0) this.#expired.abort();
          },
          // Unreachable: try again; the key may expire, which the next look notices.
          () => {},
        )
        .finally(() => {
          if (!this.#stopped && !this.#expired.signal.aborted) this.#schedule();
        });
    }, this.#lease.ttlMs / 3);
  }
}

function validateEtcdOption(etcd: unknown): EtcdLockBackendOptions["etcd"] {
  const empty =
    etcd === undefined ||
    etcd === null ||
    (typeof etcd !== "string" && typeof etcd !== "object") ||
    etcd === "" ||
    (Array.isArray(etcd) && (etcd.length === 0 || !etcd.every((e) => typeof e === "string")));
  if (empty) {
    throw new InvalidArgumentError(
      'etcd must be an Etcd3 client, its options, or "host:port" endpoint(s)',
    );
  }
  return etcd as EtcdLockBackendOptions["etcd"];
}

function isEndpointList(
  etcd: IOptions | string | readonly string[],
): etcd is string | readonly string[] {
  return typeof etcd === "string" || Array.isArray(etcd);
}

function endpoints(etcd: string | readonly string[]): string | string[] {
  return typeof etcd === "string" ? etcd : [...etcd];
}
