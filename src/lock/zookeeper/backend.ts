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
import type { ZkWatcher } from "./library.js";
import { createOwnNode } from "./own-node.js";
import { validateZkRootPath, ZkPaths } from "./paths.js";
import { readLeader, readThroughReconnect, watchOwnNode, watchTurn } from "./queue.js";
import { ZkSession } from "./session.js";

export interface ZooKeeperLockBackendOptions {
  /** The ensemble: "host:port[,host:port...]", optionally followed by a chroot path. */
  connectString: string;
  /** Parent of every lock znode. Default "/conclave/lock". */
  rootPath?: string;
  /** A request (or a connect) without a reply after this long fails with BackendUnavailableError. Default 2000. */
  operationTimeoutMs?: number;
  /** Session timeout of the backend's own session, used for reads and leader observers. Default 10000. */
  sharedSessionTimeoutMs?: number;
  /**
   * Longest time a waiter or leader observer trusts its watch without
   * listing the queue again (insurance against a lost notification). Default 5000.
   */
  recheckIntervalMs?: number;
  clock?: Clock;
}

export const ZOOKEEPER_GUARANTEES: BackendGuarantees = {
  backend: "zookeeper",
  fencing: "strict",
  fair: true,
  reentrant: false,
  kinds: LEASE_KINDS,
  onHolderCrash: "expires-after-ttl",
  partition:
    "each lock lives in its own ZooKeeper session whose timeout is ttlMs (raised to the server's minSessionTimeout if lower); a holder cut off from the quorum cannot be heard, its signal fires a safety margin before the session can expire, and the server then deletes its ephemeral znode, waking the next waiter",
};

/** A lock this backend holds for the client: a znode in its own session. */
interface HeldNode extends HeldLease {
  readonly path: string;
  readonly session: ZkSession;
}

/**
 * Locks on ZooKeeper after its recipes. Every acquisition opens its own
 * session with timeout ttlMs and creates an ephemeral sequential znode
 * `<root>/<namespace>/<name>/<kind>-<owner>-<sequence>`: the lock recipe
 * (the lowest sequence holds; each waiter watches only the znode just ahead
 * of it, so no herd and FIFO order), its read-write variant (a reader waits
 * only for the nearest writer ahead), a semaphore (the first `permits`
 * znodes hold) and leader election (the lowest candidate leads; its data is
 * the proclaimed value).
 *
 * The fencing token is the znode's czxid, the id of the transaction that
 * created it. Sequence numbers order a queue but restart if the parent is
 * deleted and created again; zxids strictly increase over the ensemble's
 * whole history (the epoch is in the high 32 bits), and within one parent
 * they rise with the sequence, so the token follows the grant order.
 *
 * Session pings keep a ZooKeeper session alive whether or not the lock is
 * renewed, so the backend enforces ttlMs itself: a lease not renewed in
 * time has its session closed. The server's session expiry covers a holder
 * that died or was cut off.
 */
export class ZooKeeperLockBackend implements LockBackend<bigint> {
  readonly guarantees = ZOOKEEPER_GUARANTEES;
  readonly clock: Clock;
  readonly #paths: ZkPaths;
  readonly #connectString: string;
  readonly #timeoutMs: number;
  readonly #sharedSessionTimeoutMs: number;
  readonly #recheckMs: number;
  readonly #held = new HeldLeases<HeldNode>();
  readonly #knownParents = new Set<string>();
  readonly #lifecycle = new BackendLifecycle("the ZooKeeper lock backend");
  #shared: Promise<ZkSession> | undefined;

  constructor(options: ZooKeeperLockBackendOptions) {
    if (typeof options?.connectString !== "string" || options.connectString.trim() === "") {
      throw new InvalidArgumentError('connectString must be "host:port[,host:port...]"');
    }
    this.#connectString = options.connectString;
    this.#paths = new ZkPaths(validateZkRootPath(options.rootPath ?? "/conclave/lock"));
    this.#timeoutMs = positiveInteger(options.operationTimeoutMs ?? 2000, "operationTimeoutMs");
    this.#sharedSessionTimeoutMs = positiveInteger(
      options.sharedSessionTimeoutMs ?? 10_000,
      "sharedSessionTimeoutMs",
    );
    this.#recheckMs = positiveInteger(options.recheckIntervalMs ?? 5000, "recheckIntervalMs");
    this.clock = options.clock ?? systemClock;
  }

  acquire(request: LeaseRequest, wait: WaitControl): Promise<LeaseGrant<bigint>> {
    this.#lifecycle.checkOpen();
    const parent = this.#paths.queue(request.kind, request.name);
    return this.#lifecycle.track(
      acquireInSequence(this.clock, request, wait, {
        // A one-shot attempt opens no session and creates no znode when the lock is taken.
        look: async () => {
          const shared = await this.#sharedSession();
          const { value: children } = await shared.children(parent, request.name);
          return ZkPaths.entries(children ?? []);
        },
        attempt: () => this.#attempt(request, wait, parent),
      }),
    );
  }

  async extend(lease: LeaseRef, ttlMs: number): Promise<LeaseRenewal> {
    this.#lifecycle.checkOpen();
    const held = this.#held.toRenew(lease);
    if (ttlMs > held.session.timeoutMs) {
      throw new InvalidArgumentError(
        `ttlMs=${ttlMs} is longer than this lock's ZooKeeper session timeout (${held.session.timeoutMs} ms), which cannot change`,
      );
    }
    const { value: stat, sentAtMs } = await held.session.exists(held.path, lease.name);
    if (stat === undefined || !stat.ephemeralOwner.equals(held.session.sessionId)) {
      this.#held.forget(lease.ownerId, held);
      void held.session.close();
      throw new LockLostError(lease.name, "its znode no longer exists (the session ended)");
    }
    const heldUntilMs = sentAtMs + ttlMs;
    if (!held.end.extendTo(heldUntilMs)) {
      throw new LockLostError(lease.name, "the lease ran out before its renewal was confirmed");
    }
    return { heldUntilMs };
  }

  async release(lease: LeaseRef): Promise<void> {
    this.#lifecycle.checkOpen();
    const held = this.#held.get(lease.ownerId);
    if (held === undefined || held.end.ended || held.session.ended.aborted) {
      throw new NotLockOwnerError(lease.name, "release");
    }
    this.#held.forget(lease.ownerId, held);
    // Both go out at once; ZooKeeper answers a session's requests in order.
    const removing = held.session.remove(held.path, lease.name);
    const closing = held.session.close();
    const removed = await removing.finally(() => closing);
    if (!removed) throw new NotLockOwnerError(lease.name, "release");
  }

  async proclaim(lease: LeaseRef, value: string): Promise<void> {
    this.#lifecycle.checkOpen();
    const held = this.#held.get(lease.ownerId);
    if (held === undefined || held.end.ended || lease.kind !== "leader") {
      throw new NotLockOwnerError(lease.name, "proclaim on");
    }
    if (!(await held.session.setData(held.path, Buffer.from(value, "utf8"), lease.name))) {
      throw new NotLockOwnerError(lease.name, "proclaim on");
    }
  }

  readLeader(name: string): Promise<LeaderSnapshot<bigint> | undefined> {
    this.#lifecycle.checkOpen();
    return this.#readLeader(name);
  }

  observeLeader(
    name: string,
    signal: AbortSignal,
  ): AsyncIterable<LeaderSnapshot<bigint> | undefined> {
    this.#lifecycle.checkOpen();
    let wake: () => void = () => {};
    const watcher: ZkWatcher = () => wake();
    return observeLeaderByPolling({
      clock: this.clock,
      signal: AbortSignal.any([signal, this.#lifecycle.closing]),
      maxPollMs: this.#recheckMs,
      read: async () => ({ snapshot: await this.#readLeader(name, watcher) }),
      subscribe: async (onChange) => {
        wake = onChange;
        return () => {
          wake = () => {};
        };
      },
    });
  }

  /**
   * Lets pending acquisitions withdraw, leaves the sessions of held locks to
   * expire on the server (the client releases locks before closing; what is
   * still held here was abandoned, as by a crash) and closes the backend's
   * own session.
   */
  async close(): Promise<void> {
    if (!this.#lifecycle.beginClose()) return;
    this.#held.forgetAll((held) => held.session.abandon());
    await this.#lifecycle.settled();
    const shared = this.#shared;
    this.#shared = undefined;
    await shared?.then((session) => session.close()).catch(() => {});
  }

  async #attempt(
    request: LeaseRequest,
    wait: WaitControl,
    parent: string,
  ): Promise<LeaseGrant<bigint> | EntryLost> {
    const { name, kind } = request;
    const session = await ZkSession.open({
      connectString: this.#connectString,
      requestedTimeoutMs: request.ttlMs,
      operationTimeoutMs: this.#timeoutMs,
      clock: this.clock,
    });
    let granted = false;
    try {
      if (session.timeoutMs < request.ttlMs) {
        throw new InvalidArgumentError(
          `ttlMs=${request.ttlMs} is longer than the longest session the ZooKeeper server grants (${session.timeoutMs} ms, its maxSessionTimeout)`,
        );
      }
      this.#lifecycle.throwIfStopped(wait, name);
      if (!this.#knownParents.has(parent)) {
        await session.mkdirp(parent, name);
        this.#knownParents.add(parent);
      }
      const { node } = await createOwnNode(
        session,
        parent,
        ZkPaths.nodePrefix(kind, request.ownerId),
        Buffer.from(request.value ?? "", "utf8"),
        name,
      );
      const path = `${parent}/${node}`;
      const [created, firstListing] = await Promise.all([
        readThroughReconnect(session, name, () => session.exists(path, name)),
        readThroughReconnect(session, name, () => session.children(parent, name)),
      ]);
      if (created.value === undefined) return ENTRY_LOST;
      const fencingToken = created.value.czxid.readBigUInt64BE(0);
      const turn = await waitForTurn({
        clock: this.clock,
        request,
        wait,
        recheckMs: this.#recheckMs,
        closing: this.#lifecycle.closing,
        mine: { id: node, position: ZkPaths.position(node) },
        first: firstListing,
        entriesOf: (listing) => ZkPaths.entries(listing.value ?? []),
        startWaiting: () => session.ended,
        watch: (blocked, _listing, entries, wake) =>
          watchTurn(session, parent, blocked, entries, wake, name),
        reread: () => readThroughReconnect(session, name, () => session.children(parent, name)),
        throwIfStopped: () => this.#lifecycle.throwIfStopped(wait, name),
      });
      if (turn === ENTRY_LOST) return ENTRY_LOST;
      // The server that listed this znode first still counted the session
      // alive and restarted its timeout on that request: the lease runs
      // from when the request was sent. This also re-checks, after any
      // wait, that the session did not expire meanwhile.
      const heldUntilMs = turn.snapshot.sentAtMs + request.ttlMs;
      this.#lifecycle.throwIfStopped(wait, name);
      const held = this.#hold(request, path, session, heldUntilMs);
      granted = true;
      return { fencingToken, heldUntilMs, lost: held.lost.signal };
    } finally {
      // Withdraw from the queue: closing the session deletes its znode.
      if (!granted) await session.close();
    }
  }

  #hold(request: LeaseRequest, path: string, session: ZkSession, heldUntilMs: number): HeldNode {
    const { name, ownerId } = request;
    const lost = new AbortController();
    const onEnded = () => lost.abort(new LockLostError(name, "its ZooKeeper session ended"));
    session.ended.addEventListener("abort", onEnded, { once: true });
    const held: HeldNode = {
      name,
      path,
      session,
      lost,
      end: new LocalLeaseEnd(this.clock, heldUntilMs, () => this.#giveUp(ownerId)),
      detach: () => session.ended.removeEventListener("abort", onEnded),
    };
    this.#held.set(ownerId, held);
    // Anything deleting the znode (an operator, an expiry we did not foresee) ends the lock at once.
    watchOwnNode(session, path, name, () => {
      if (this.#held.get(ownerId) === held) {
        held.lost.abort(new LockLostError(name, "its znode was deleted"));
      }
    });
    return held;
  }

  /** The lease ran out without a renewal: close its session so the next waiter need not wait for the server's expiry. */
  #giveUp(ownerId: string): void {
    const held = this.#held.giveUp(ownerId);
    if (held !== undefined) void held.session.close();
  }

  async #readLeader(
    name: string,
    watcher?: ZkWatcher,
  ): Promise<LeaderSnapshot<bigint> | undefined> {
    return readLeader(
      await this.#sharedSession(),
      this.#paths.queue("leader", name),
      name,
      watcher,
    );
  }

  /** The backend's own session (reads, observers), opened on first use and again after it ends. */
  async #sharedSession(): Promise<ZkSession> {
    const current = this.#shared;
    if (current !== undefined) {
      const session = await current.catch(() => undefined);
      if (session !== undefined && !session.ended.aborted) return session;
      if (this.#shared === current) this.#shared = undefined;
    }
    this.#lifecycle.checkOpen();
    this.#shared ??= ZkSession.open({
      connectString: this.#connectString,
      requestedTimeoutMs: this.#sharedSessionTimeoutMs,
      operationTimeoutMs: this.#timeoutMs,
      clock: this.clock,
    });
    return this.#shared;
  }
}
