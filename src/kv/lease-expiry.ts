import { type Clock, repeatEvery, systemClock } from "../clock.js";
import { InvalidArgumentError } from "../errors.js";
import { invariant, NotLeaderError } from "../raft/core/errors.js";
import { LeaseNotFoundError, LeaseRenewedError } from "./errors.js";
import { DEFAULT_CHECKPOINT_INTERVAL_MS, LeaseCheckpoints } from "./lease-checkpoints.js";
import { LeaseClock, type TrackedLease } from "./lease-clock.js";
import type { LeaseApplied } from "./store.js";
import type { LeaseCheckpoint } from "./types.js";

/**
 * Leases on the leader. The store keeps only TTLs (and checkpointed
 * remaining TTLs); this loop keeps the deadlines with the leader's own
 * monotonic clock, renews them on keep-alives without writing to the log,
 * checkpoints long leases' remaining TTLs through the log (see
 * lease-checkpoints.ts) and proposes `leaseRevoke` when a deadline passes,
 * so every replica deletes the same keys at the same log position.
 * Followers track nothing and expire nothing.
 */

/** What the loop reads and does: a RaftNode, a KvStore and a write path (see KvReplica). */
export interface LeaseExpirySources {
  /** This node's view of its role, term and leader (RaftNode.status()). */
  status(): { readonly role: string; readonly term: number; readonly leader?: number };
  /** Every lease in the store (KvStore.leaseRenewals); read once on each promotion to leader. */
  leases(): Iterable<TrackedLease>;
  /** One lease in the store (KvStore.leaseState), undefined when it does not exist. */
  lease(id: number): TrackedLease | undefined;
  /**
   * Confirms this node still leads (a ReadIndex: RaftNode.linearizableRead),
   * and that everything committed before is applied here.
   */
  confirmLeadership(): Promise<void>;
  /** Proposes a `leaseCheckpoint` entry; settles once it was applied (or failed). */
  checkpoint(checkpoints: LeaseCheckpoint[]): Promise<unknown>;
  /** KvStore.onLeaseApplied: grants, keepalives and revokes as they are applied. */
  onLeaseApplied(listener: (change: LeaseApplied) => void): () => void;
  /**
   * Proposes a revoke through the log, conditional on the lease having had
   * `ifRenewals` keep-alives; settles once it was applied (or failed).
   */
  revoke(id: number, ifRenewals: number): Promise<unknown>;
}

export interface LeaseExpiryOptions {
  /** The leader's monotonic clock and the check timer; the process's by default. */
  readonly clock?: Clock;
  /** Extra grace a new leader gives every lease it inherits (see takeoverDeadlineMs). */
  readonly electionTimeoutMs: number;
  /** How often the leader looks for expired leases; default 100 ms. */
  readonly checkIntervalMs?: number;
  /**
   * How often the leader checkpoints the remaining TTL of leases longer than
   * this through the log; default 5 minutes (etcd's).
   */
  readonly checkpointIntervalMs?: number;
  /** Called when an expiry revoke this loop proposed was applied. */
  readonly onExpired?: (id: number) => void;
}

/** What createServer lets its caller set; the rest it wires itself. */
export interface ServerLeaseExpiryOptions {
  readonly clock?: Clock;
  /** Default: the node's configured election timeout. */
  readonly electionTimeoutMs?: number;
  readonly checkIntervalMs?: number;
  readonly checkpointIntervalMs?: number;
}

const DEFAULT_CHECK_INTERVAL_MS = 100;

export class LeaseExpiry {
  private readonly clock: Clock;
  private readonly electionTimeoutMs: number;
  private readonly checkIntervalMs: number;
  private readonly checkpointIntervalMs: number;
  /** Present only while this node is leader, for the term it was promoted in. */
  private deadlines: LeaseClock | undefined;
  /** This term's checkpoints; present exactly when `deadlines` is. */
  private checkpoints: LeaseCheckpoints | undefined;
  private term = 0;
  /**
   * The term in which this leader has applied everything committed before
   * its term (a ReadIndex in the term succeeded). Until then its deadlines
   * are provisional: it may not yet have applied a checkpoint, or the clear
   * that followed one, and it neither expires nor checkpoints anything.
   */
  private caughtUpTerm = 0;
  private catchingUp: { readonly term: number; readonly done: Promise<void> } | undefined;
  /** Revokes proposed and not yet settled: one proposal per lease at a time. */
  private readonly revoking = new Set<number>();
  private cancelTimer: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;
  private checksDone = 0;

  constructor(
    private readonly sources: LeaseExpirySources,
    private readonly options: LeaseExpiryOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.electionTimeoutMs = options.electionTimeoutMs;
    this.checkIntervalMs = options.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS;
    this.checkpointIntervalMs = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    for (const [name, value] of [
      ["checkIntervalMs", this.checkIntervalMs],
      ["checkpointIntervalMs", this.checkpointIntervalMs],
    ] as const) {
      if (!Number.isFinite(value) || value <= 0) {
        throw new InvalidArgumentError(`${name} must be a positive number, got ${value}`);
      }
    }
    // Validates electionTimeoutMs early rather than on the first promotion.
    new LeaseClock(this.electionTimeoutMs);
  }

  /** Starts listening to applied lease changes and checking deadlines on a timer. */
  start(): void {
    if (this.cancelTimer !== undefined) return;
    this.unsubscribe = this.sources.onLeaseApplied((change) => this.applied(change));
    this.cancelTimer = repeatEvery(this.clock, this.checkIntervalMs, () => void this.check());
  }

  stop(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.deadlines = undefined;
    this.checkpoints = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.stop();
  }

  /** Completed deadline checks since start (on any role); lets tests wait for a full pass. */
  get checks(): number {
    return this.checksDone;
  }

  /** Whether this node leads and so tracks deadlines; promotes on a new term. */
  isLeading(): boolean {
    return this.sync() !== undefined;
  }

  /**
   * Milliseconds until the lease may be expired, from this leader's clock;
   * undefined when this node is not the leader or does not know the lease.
   */
  remainingMs(id: number): number | undefined {
    return this.sync()?.remainingMs(id, this.clock.now());
  }

  /** Leases whose deadline this leader tracks. */
  get trackedCount(): number {
    return this.deadlines === undefined ? 0 : this.deadlines.tracked;
  }

  /**
   * Renews a lease on the leader, in memory: no log entry (but see
   * LeaseCheckpoints.afterRenewal). Leadership is confirmed first, by a
   * ReadIndex issued after the call, so a deposed leader that has not
   * noticed yet cannot renew a lease its successor may expire (etcd fixed
   * the same bug). Throws NotLeaderError on a follower, and
   * LeaseNotFoundError for a lease that does not exist or that this leader
   * already decided to expire: a client is never told "renewed" about a
   * lease about to go.
   */
  async keepAlive(id: number): Promise<{ readonly id: number; readonly ttlMs: number }> {
    const [renewed] = await this.keepAliveMany([id]);
    invariant(renewed !== undefined, "one renewal per lease asked");
    if (renewed.ttlMs === 0) throw new LeaseNotFoundError(id);
    return renewed;
  }

  /**
   * keepAlive for many leases behind one leadership confirmation: one
   * ReadIndex however many leases. A lease that does not exist or that this
   * leader already decided to expire answers ttlMs 0 (etcd's keep-alive
   * stream answers TTL 0 so), the others are renewed. Throws NotLeaderError
   * as keepAlive does, for the whole batch.
   */
  async keepAliveMany(
    ids: readonly number[],
  ): Promise<{ readonly id: number; readonly ttlMs: number }[]> {
    const term = this.leadingTerm("lease keepalive");
    await this.sources.confirmLeadership();
    // A term change during the ReadIndex: the renewal would land in a clock
    // whose leadership that ReadIndex did not confirm.
    if (this.leadingTerm("lease keepalive") !== term) {
      throw new NotLeaderError(this.sources.status().leader ?? 0, "lease keepalive");
    }
    this.caughtUp(term);
    const { deadlines, checkpoints } = this;
    invariant(deadlines !== undefined && checkpoints !== undefined, "a leader tracks its leases");
    const nowMs = this.clock.now();
    const cleared: Promise<unknown>[] = [];
    const renewed = ids.map((id) => {
      const lease = this.sources.lease(id);
      if (lease === undefined || this.revoking.has(id) || deadlines.remainingMs(id, nowMs) === 0) {
        return { id, ttlMs: 0 };
      }
      invariant(lease.ttlMs > 0, "a granted lease has a TTL: ttlMs 0 means not found");
      deadlines.refresh(id, lease.ttlMs, nowMs, deadlines.renewals(id));
      const clearing = checkpoints.afterRenewal(id, lease.ttlMs, lease.remainingMs !== undefined);
      if (clearing !== undefined) cleared.push(clearing);
      return { id, ttlMs: lease.ttlMs };
    });
    await Promise.all(cleared);
    return renewed;
  }

  /**
   * One pass: follow leadership, propose a revoke for each lease past its
   * deadline and, once an interval, a checkpoint. Resolves once those
   * proposals settled.
   */
  async check(): Promise<void> {
    let deadlines = this.sync();
    if (deadlines !== undefined && this.caughtUpTerm !== this.term) {
      await this.catchUp(this.term);
      deadlines = this.sync();
      if (this.caughtUpTerm !== this.term) deadlines = undefined;
    }
    const proposals: Promise<void>[] = [];
    if (deadlines !== undefined) {
      const nowMs = this.clock.now();
      for (const id of deadlines.expired(nowMs)) {
        if (this.revoking.has(id)) continue;
        this.revoking.add(id);
        proposals.push(this.expire(id, deadlines));
      }
      const checkpointed = this.checkpoints!.checkpointDue(
        nowMs,
        deadlines.remaining(nowMs),
        (id) => this.revoking.has(id),
      );
      if (checkpointed !== undefined) proposals.push(checkpointed);
    }
    this.checksDone++;
    await Promise.all(proposals);
  }

  /** One ReadIndex per term at a time; a failed one is retried by a later check. */
  private catchUp(term: number): Promise<void> {
    if (this.catchingUp?.term !== term) {
      const done = this.sources.confirmLeadership().then(
        () => this.caughtUp(term),
        () => {},
      );
      const attempt = { term, done };
      this.catchingUp = attempt;
      void done.finally(() => {
        if (this.catchingUp === attempt) this.catchingUp = undefined;
      });
    }
    return this.catchingUp!.done;
  }

  /**
   * A ReadIndex confirmed in `term` has returned: everything committed
   * before this term is applied, so promote again from the store, now
   * complete (the provisional deadlines may have counted from a checkpoint
   * whose clear was not yet applied). No in-memory renewal, revoke or
   * checkpoint of this term happened before; a grant applied meanwhile keeps
   * the deadline it set (see LeaseClock.promote).
   */
  private caughtUp(term: number): void {
    if (this.caughtUpTerm === term || this.sync() === undefined || this.term !== term) return;
    this.promote(term);
    this.caughtUpTerm = term;
  }

  /** The term this node leads in; NotLeaderError when it does not lead. */
  private leadingTerm(what: string): number {
    if (this.sync() === undefined) {
      throw new NotLeaderError(this.sources.status().leader ?? 0, what);
    }
    return this.term;
  }

  private async expire(id: number, deadlines: LeaseClock): Promise<void> {
    try {
      await this.sources.revoke(id, deadlines.renewals(id));
      this.options.onExpired?.(id);
    } catch (err) {
      // Already revoked by someone else: nothing left to expire. Renewed
      // meanwhile: the keep-alive's apply already set a new deadline. Any
      // other failure (lost leadership, timeout) is retried on a later check.
      if (err instanceof LeaseNotFoundError) deadlines.forget(id);
      else if (err instanceof LeaseRenewedError) return;
    } finally {
      this.revoking.delete(id);
    }
  }

  /** The deadlines to use now, or undefined when not leader. */
  private sync(): LeaseClock | undefined {
    const st = this.sources.status();
    if (st.role !== "leader") {
      this.deadlines = undefined;
      this.checkpoints = undefined;
      return undefined;
    }
    if (this.deadlines === undefined || st.term !== this.term) this.promote(st.term);
    return this.deadlines;
  }

  /** Every lease from the store gets its takeover deadline (see takeoverDeadlineMs). */
  private promote(term: number): void {
    const nowMs = this.clock.now();
    const deadlines = new LeaseClock(this.electionTimeoutMs);
    const sameTerm =
      this.deadlines !== undefined && this.term === term ? this.deadlines : undefined;
    deadlines.promote(nowMs, this.sources.leases(), sameTerm);
    this.deadlines = deadlines;
    this.checkpoints = new LeaseCheckpoints(
      (checkpoints) => this.sources.checkpoint(checkpoints),
      this.checkpointIntervalMs,
      nowMs,
    );
    this.term = term;
  }

  private applied(change: LeaseApplied): void {
    // Follow leadership first: a leader that has not looked at its role since
    // it was elected would otherwise drop its own grant here and give it the
    // takeover margin at the next promotion. Not leading: the next promotion
    // reads every lease from the store anyway.
    const deadlines = this.sync();
    if (deadlines === undefined) return;
    if (change.kind === "revoke") {
      deadlines.forget(change.id);
      this.checkpoints?.forget(change.id);
    } else {
      // A grant, or a legacy keep-alive entry still in the log: a full TTL from now.
      deadlines.refresh(change.id, change.ttlMs, this.clock.now(), change.renewals);
    }
  }
}
