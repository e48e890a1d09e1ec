import { InvalidArgumentError } from "../errors.js";

/**
 * Lease expiry lives on the leader, not in the replicated state: the store
 * keeps each lease's TTL, and the leader tracks deadlines with its own clock
 * and proposes `leaseRevoke` for those that pass. Followers never expire
 * anything, so replicas cannot disagree about what expired.
 */

/**
 * A leader that has just taken over does not know when the old leader last
 * renewed a lease, so it gives every lease its checkpointed remaining TTL
 * (a full TTL when none was checkpointed since the last renewal) plus one
 * election timeout (the longest a client may have been unable to reach any
 * leader) before it may expire it. Same rule as etcd's lessor promotion.
 */
export function takeoverDeadlineMs(
  nowMs: number,
  ttlMs: number,
  electionTimeoutMs: number,
  checkpointedMs?: number,
): number {
  return nowMs + Math.min(ttlMs, checkpointedMs ?? ttlMs) + electionTimeoutMs;
}

/** Ids whose deadline is at or before nowMs, in id order. */
export function expiredLeases(nowMs: number, deadlinesMs: ReadonlyMap<number, number>): number[] {
  const out: number[] = [];
  for (const [id, deadlineMs] of deadlinesMs) if (deadlineMs <= nowMs) out.push(id);
  return out.sort((a, b) => a - b);
}

/** A lease as the leader's clock tracks it. */
export interface TrackedLease {
  readonly id: number;
  readonly ttlMs: number;
  /** Legacy keep-alives applied so far; the expiry revoke is conditional on it. */
  readonly renewals?: number;
  /** The remaining TTL last checkpointed through the log, if any. */
  readonly remainingMs?: number;
}

/** The leader's view of lease deadlines. Feed it from applied results and keepalives. */
export class LeaseClock {
  private readonly deadlinesMs = new Map<number, number>();
  private readonly ttlsMs = new Map<number, number>();
  private readonly renewalsSeen = new Map<number, number>();
  /** Leases this clock refreshed itself (a grant or renewal it saw), not from a takeover. */
  private readonly refreshed = new Set<number>();

  constructor(private readonly electionTimeoutMs: number) {
    if (!Number.isFinite(electionTimeoutMs) || electionTimeoutMs < 0) {
      throw new InvalidArgumentError(`electionTimeoutMs must be >= 0, got ${electionTimeoutMs}`);
    }
  }

  /**
   * On becoming leader: every known lease gets a fresh TTL plus an election
   * timeout. `sameTerm` is this leader's earlier clock of the same term
   * (promoting again once caught up): a lease it refreshed itself keeps that
   * deadline, a full TTL from the refresh — the takeover margin is for leases
   * whose last renewal this leader did not see, and a lease granted by this
   * leader must not live (or report) more than its TTL.
   */
  promote(nowMs: number, leases: Iterable<TrackedLease>, sameTerm?: LeaseClock): void {
    this.deadlinesMs.clear();
    this.ttlsMs.clear();
    this.renewalsSeen.clear();
    this.refreshed.clear();
    for (const { id, ttlMs, renewals, remainingMs } of leases) {
      this.ttlsMs.set(id, ttlMs);
      this.renewalsSeen.set(id, renewals ?? 0);
      const refreshedMs = sameTerm?.refreshed.has(id) ? sameTerm.deadlinesMs.get(id) : undefined;
      if (refreshedMs !== undefined) {
        this.refreshed.add(id);
        this.deadlinesMs.set(id, refreshedMs);
        continue;
      }
      this.deadlinesMs.set(
        id,
        takeoverDeadlineMs(nowMs, ttlMs, this.electionTimeoutMs, remainingMs),
      );
    }
  }

  /** A grant was applied or a keep-alive renewed it: the lease lives a full TTL from now. */
  refresh(id: number, ttlMs: number, nowMs: number, renewals = 0): void {
    this.ttlsMs.set(id, ttlMs);
    this.renewalsSeen.set(id, renewals);
    this.deadlinesMs.set(id, nowMs + ttlMs);
    this.refreshed.add(id);
  }

  /** The lease was revoked (or expired and the revoke was applied). */
  forget(id: number): void {
    this.refreshed.delete(id);
    this.deadlinesMs.delete(id);
    this.ttlsMs.delete(id);
    this.renewalsSeen.delete(id);
  }

  /** Keep-alives this leader had seen applied for the lease (0 when untracked). */
  renewals(id: number): number {
    return this.renewalsSeen.get(id) ?? 0;
  }

  /** Milliseconds left, or undefined if the lease is not tracked. Never negative. */
  remainingMs(id: number, nowMs: number): number | undefined {
    const deadline = this.deadlinesMs.get(id);
    return deadline === undefined ? undefined : Math.max(0, deadline - nowMs);
  }

  /** The lease's TTL, or undefined if the lease is not tracked. */
  ttlMs(id: number): number | undefined {
    return this.ttlsMs.get(id);
  }

  /** Every tracked lease with its TTL and milliseconds left (never negative). */
  *remaining(nowMs: number): Generator<{ id: number; ttlMs: number; remainingMs: number }> {
    for (const [id, deadlineMs] of this.deadlinesMs) {
      yield { id, ttlMs: this.ttlsMs.get(id)!, remainingMs: Math.max(0, deadlineMs - nowMs) };
    }
  }

  /** How many leases have a deadline. */
  get tracked(): number {
    return this.deadlinesMs.size;
  }

  /** Leases to revoke now, in id order. */
  expired(nowMs: number): number[] {
    return expiredLeases(nowMs, this.deadlinesMs);
  }
}
