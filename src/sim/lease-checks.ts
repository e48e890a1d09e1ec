import type { LeaseRecord } from "./workload.js";

export interface LeaseCheckContext {
  /** Virtual time at the end of the run. */
  readonly now: number;
  /** The most a server's clock runs fast or slow, as a fraction. */
  readonly clockSkew: number;
  /** When the leader at the end took over (or was first seen). */
  readonly leaderSince: number;
  /** What a new leader adds to every lease it inherits (the election timeout). */
  readonly takeoverGraceMs: number;
  /** How long past its deadline an unattended lease may live once a leader holds. */
  readonly expiryBoundMs: number;
  /** Leases the leader still holds at the end. */
  readonly liveLeases: ReadonlySet<number>;
}

/**
 * The two promises of leases. Safety: a lease the client did not revoke is
 * never revoked before the TTL has run out since the call of an
 * acknowledged keep-alive (measured on the fastest clock the skew allows).
 * Liveness: a lease left alone is gone, at the end, once its TTL (counted
 * from its last keep-alive, or from when the last leader took over, with the
 * takeover grace) and the expiry bound have passed. `revokedAt` holds when each lease's revoke was
 * first applied anywhere. Returns a description of the first breach.
 */
export function checkLeases(
  leases: readonly LeaseRecord[],
  revokedAt: ReadonlyMap<number, number>,
  ctx: LeaseCheckContext,
): string | undefined {
  for (const lease of leases) {
    if (lease.revokeRequested) continue;
    const lastCall = Math.max(...lease.acknowledged);
    const protectedUntil = lastCall + lease.ttlMs / (1 + ctx.clockSkew);
    const revoked = revokedAt.get(lease.id);
    if (revoked !== undefined && revoked < protectedUntil) {
      return `lease ${lease.id} (ttl ${lease.ttlMs} ms) was revoked at t=${revoked.toFixed(1)}, but a keep-alive called at t=${lastCall.toFixed(1)} was acknowledged: it was safe until t=${protectedUntil.toFixed(1)}`;
    }
    // The leader at the end expires it a TTL after the last keep-alive, or,
    // if it took over later, a TTL and its grace after taking over.
    const fromKeepAlive = lastCall + lease.ttlMs * (1 + ctx.clockSkew);
    const fromTakeover =
      ctx.leaderSince + (lease.ttlMs + ctx.takeoverGraceMs) * (1 + ctx.clockSkew);
    const dueBy = Math.max(fromKeepAlive, fromTakeover) + ctx.expiryBoundMs;
    if (ctx.now > dueBy && ctx.liveLeases.has(lease.id)) {
      return `lease ${lease.id} (ttl ${lease.ttlMs} ms, last kept alive at t=${lastCall.toFixed(1)}) still exists at t=${ctx.now.toFixed(1)}, past t=${dueBy.toFixed(1)}`;
    }
  }
  return undefined;
}
