import type { KeyString } from "./bytes.js";
import { LeaseExistsError, LeaseNotFoundError } from "./errors.js";

export interface LeaseEntry {
  readonly id: number;
  readonly ttlMs: number;
  readonly keys: Set<KeyString>;
  /** Keep-alives applied since the grant: an expiry revoke names the count it saw. */
  renewals: number;
  /**
   * The remaining TTL the leader last checkpointed through the log, below
   * ttlMs; absent after a grant or once a checkpoint cleared it.
   */
  remainingMs?: number;
}

/** A lease as a new leader starts from it: see KvStore.leaseRenewals. */
export interface LeaseState {
  readonly id: number;
  readonly ttlMs: number;
  readonly renewals: number;
  readonly remainingMs?: number;
}

/**
 * Replicated lease state: ids, granted TTLs and attached keys. No time lives
 * here; the leader decides expiry (see LeaseClock) and proposes a revoke.
 */
export class LeaseTable {
  private readonly leases = new Map<number, LeaseEntry>();
  /** Next id to try when a grant lets the store choose. */
  nextId = 1;

  /** Ids granted, revoked or changed since the last takeChanged(): the rows a backend rewrites. */
  private readonly changed = new Set<number>();

  /** Marks a lease whose row changed outside this table's own methods (legacy renewals). */
  markChanged(id: number): void {
    this.changed.add(id);
  }

  /** The ids changed since the last call, once each. */
  takeChanged(): number[] {
    const ids = [...this.changed];
    this.changed.clear();
    return ids;
  }

  get size(): number {
    return this.leases.size;
  }

  get(id: number): LeaseEntry | undefined {
    return this.leases.get(id);
  }

  require(id: number): LeaseEntry {
    const lease = this.leases.get(id);
    if (lease === undefined) throw new LeaseNotFoundError(id);
    return lease;
  }

  /** The lease's TTL, legacy renewals and checkpointed remaining TTL; undefined when unknown. */
  state(id: number): LeaseState | undefined {
    const lease = this.leases.get(id);
    if (lease === undefined) return undefined;
    const { ttlMs, renewals, remainingMs } = lease;
    return remainingMs === undefined
      ? { id, ttlMs, renewals }
      : { id, ttlMs, renewals, remainingMs };
  }

  /** Every lease's state, in id order. */
  states(): LeaseState[] {
    return this.all().map(({ id, ttlMs, renewals, remainingMs }) =>
      remainingMs === undefined ? { id, ttlMs, renewals } : { id, ttlMs, renewals, remainingMs },
    );
  }

  /** Validates a grant without changing anything; returns the id it would use. */
  planGrant(requestedId: number): number {
    if (requestedId !== 0) {
      if (this.leases.has(requestedId)) throw new LeaseExistsError(requestedId);
      return requestedId;
    }
    let id = this.nextId;
    while (this.leases.has(id)) id++;
    return id;
  }

  grant(requestedId: number, ttlMs: number, renewals = 0): LeaseEntry {
    const id = this.planGrant(requestedId);
    this.changed.add(id);
    if (requestedId === 0) this.nextId = id + 1;
    const lease = { id, ttlMs, keys: new Set<KeyString>(), renewals };
    this.leases.set(id, lease);
    return lease;
  }

  /** Records a checkpointed remaining TTL; one at or above the TTL clears it. Unknown ids are ignored. */
  checkpoint(id: number, remainingMs: number): void {
    this.changed.add(id);
    const lease = this.leases.get(id);
    if (lease === undefined) return;
    if (remainingMs >= lease.ttlMs) delete lease.remainingMs;
    else lease.remainingMs = remainingMs;
  }

  remove(id: number): void {
    this.changed.add(id);
    this.leases.delete(id);
  }

  attach(key: KeyString, id: number): void {
    if (id !== 0) this.leases.get(id)?.keys.add(key);
  }

  detach(key: KeyString, id: number): void {
    if (id !== 0) this.leases.get(id)?.keys.delete(key);
  }

  /** All leases in id order. */
  all(): LeaseEntry[] {
    return [...this.leases.values()].sort((a, b) => a.id - b.id);
  }

  clear(): void {
    this.leases.clear();
    this.nextId = 1;
  }
}
