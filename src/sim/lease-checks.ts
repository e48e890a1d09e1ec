import type { LeaseRecord } from "./workload.js";

export interface LeaseCheckContext {
  /** Virtual time at the end of the run. */
  readonly now: number;
  /** The most a server's clock runs fast or slow, as a fraction. */
  readonly clockSkew: number;
  /** How long past its TTL an unattended lease may live once the cluster is healthy. */
  readonly expiryBoundMs: number;
  /** Leases the leader still holds at the end. */
  readonly liveLeases: ReadonlySet<number>;
}

/**
 * The two promises of leases. Safety: a lease the client did not revoke is
 * never revoked before the TTL has run out since the call of an
 * acknowledged keep-alive (measured on the fastest clock the skew allows).
 * Liveness: a lease left alone is gone, at the end, once its TTL and the
 * expiry bound have passed. `revokedAt` holds when each lease's revoke was
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
    const dueBy = lastCall + lease.ttlMs * (1 + ctx.clockSkew) + ctx.expiryBoundMs;
    if (ctx.now > dueBy && ctx.liveLeases.has(lease.id)) {
      return `lease ${lease.id} (ttl ${lease.ttlMs} ms, last kept alive at t=${lastCall.toFixed(1)}) still exists at t=${ctx.now.toFixed(1)}, past t=${dueBy.toFixed(1)}`;
    }
  }
  return undefined;
}
