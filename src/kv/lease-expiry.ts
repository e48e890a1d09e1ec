import { type Clock, systemClock } from "../clock.js";
import { InvalidArgumentError } from "../errors.js";
import { LeaseNotFoundError, LeaseRenewedError } from "./errors.js";
import { LeaseClock, type TrackedLease } from "./lease-clock.js";
import type { LeaseApplied } from "./store.js";

/**
 * Lease expiry on the leader. The store keeps only TTLs; this loop keeps the
 * deadlines with the leader's own monotonic clock and proposes `leaseRevoke`
 * through the log when one passes, so every replica deletes the same keys at
 * the same log position. Followers track nothing and expire nothing.
 */

/** What the loop reads and does: a RaftNode, a KvStore and a write path (see KvReplica). */
export interface LeaseExpirySources {
  /** This node's view of its role and term (RaftNode.status()). */
  status(): { readonly role: string; readonly term: number };
  /** Every lease in the store (KvStore.leaseRenewals); read once on each promotion to leader. */
  leases(): Iterable<TrackedLease>;
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
  /** Called when an expiry revoke this loop proposed was applied. */
  readonly onExpired?: (id: number) => void;
}

/** What createServer lets its caller set; the rest it wires itself. */
export interface ServerLeaseExpiryOptions {
  readonly clock?: Clock;
  /** Default: the node's configured election timeout. */
  readonly electionTimeoutMs?: number;
  readonly checkIntervalMs?: number;
}

const DEFAULT_CHECK_INTERVAL_MS = 100;

export class LeaseExpiry {
  private readonly clock: Clock;
  private readonly electionTimeoutMs: number;
  private readonly checkIntervalMs: number;
  /** Present only while this node is leader, for the term it was promoted in. */
  private deadlines: LeaseClock | undefined;
  private term = 0;
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
    if (!Number.isFinite(this.checkIntervalMs) || this.checkIntervalMs <= 0) {
      throw new InvalidArgumentError(
        `checkIntervalMs must be a positive number, got ${this.checkIntervalMs}`,
      );
    }
    // Validates electionTimeoutMs early rather than on the first promotion.
    new LeaseClock(this.electionTimeoutMs);
  }

  /** Starts listening to applied lease changes and checking deadlines on a timer. */
  start(): void {
    if (this.cancelTimer !== undefined) return;
    this.unsubscribe = this.sources.onLeaseApplied((change) => this.applied(change));
    const every = (): void => {
      this.cancelTimer = this.clock.setTimer(() => {
        every();
        void this.check();
      }, this.checkIntervalMs);
    };
    every();
  }

  stop(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.deadlines = undefined;
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
   * One pass: follow leadership, then propose a revoke for each lease past its
   * deadline. Resolves once those proposals settled.
   */
  async check(): Promise<void> {
    const deadlines = this.sync();
    const proposals: Promise<void>[] = [];
    if (deadlines !== undefined) {
      for (const id of deadlines.expired(this.clock.now())) {
        if (this.revoking.has(id)) continue;
        this.revoking.add(id);
        proposals.push(this.expire(id, deadlines));
      }
    }
    this.checksDone++;
    await Promise.all(proposals);
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
      return undefined;
    }
    if (this.deadlines === undefined || st.term !== this.term) {
      const deadlines = new LeaseClock(this.electionTimeoutMs);
      deadlines.promote(this.clock.now(), this.sources.leases());
      this.deadlines = deadlines;
      this.term = st.term;
    }
    return this.deadlines;
  }

  private applied(change: LeaseApplied): void {
    // Not leading: the next promotion reads every lease from the store anyway.
    const deadlines = this.deadlines;
    if (deadlines === undefined) return;
    if (change.kind === "revoke") deadlines.forget(change.id);
    else deadlines.refresh(change.id, change.ttlMs, this.clock.now(), change.renewals);
  }
}
