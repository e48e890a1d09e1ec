import type { LeaseCheckpoint } from "./types.js";

/**
 * Lease checkpoints on the leader, for one term. Keep-alives renew leases in
 * the leader's memory only, so a new leader cannot know when a lease was
 * last renewed and must give it a full TTL again; with leader changes more
 * frequent than the TTL a lease nobody renews would then live forever. So
 * the leader periodically writes each long lease's remaining TTL to the log
 * (`leaseCheckpoint`), and a new leader starts from that (etcd's lease
 * checkpoints, etcd#9924).
 *
 * A checkpoint is stale the moment the lease is renewed after it: a new
 * leader would give the lease the old, shorter remaining time although a
 * client was told it had a full TTL. So a renewal of a lease whose last
 * checkpoint in the log (applied, or proposed by this leader and still in
 * flight) gives it less than its full TTL waits for a clearing entry — a
 * checkpoint of the full TTL, ordered after every checkpoint proposed before
 * the renewal — before the client gets its answer. Clears of renewals in the
 * same turn share one entry, and a lease is checkpointed at most once per
 * interval, so a long lease costs at most two entries per interval (etcd's
 * bound) and a lease no longer than the interval none at all.
 */

/** etcd's default lease checkpoint interval. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5 * 60_000;
/** Leases per `leaseCheckpoint` entry, as etcd's maxLeaseCheckpointBatchSize: bounds an entry's size. */
export const MAX_CHECKPOINTS_PER_ENTRY = 1000;

/** Proposes one `leaseCheckpoint` entry; settles once it was applied here (or failed). */
export type ProposeCheckpoints = (checkpoints: LeaseCheckpoint[]) => Promise<unknown>;

/** A lease as the leader's clock sees it now. */
export interface LeaseTimeLeft {
  readonly id: number;
  readonly ttlMs: number;
  readonly remainingMs: number;
}

interface ClearBatch {
  readonly stamp: number;
  readonly ttlsMs: Map<number, number>;
  readonly done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

export class LeaseCheckpoints {
  /** Orders this term's proposals: a clear answers only for checkpoints proposed before it. */
  private stamp = 0;
  /** Per lease, the stamp of the latest checkpoint that gave it less than its full TTL. */
  private readonly reducedAt = new Map<number, number>();
  /** Per lease, the latest clear proposed and not yet settled. */
  private readonly clears = new Map<
    number,
    { readonly stamp: number; readonly done: Promise<void> }
  >();
  /** Clears collected in this turn, proposed together from a microtask. */
  private collecting: ClearBatch | undefined;
  private periodic: Promise<void> | undefined;
  private nextAtMs: number;

  constructor(
    private readonly propose: ProposeCheckpoints,
    private readonly intervalMs: number,
    nowMs: number,
  ) {
    this.nextAtMs = nowMs + intervalMs;
  }

  /**
   * Once an interval (and with no earlier one in flight): proposes the
   * remaining TTL of every lease longer than the interval. A shorter lease
   * expires or is renewed before the next checkpoint could tell a new leader
   * anything. Returns the proposals' settlement, or undefined if none was due.
   */
  checkpointDue(
    nowMs: number,
    leases: Iterable<LeaseTimeLeft>,
    skip: (id: number) => boolean,
  ): Promise<void> | undefined {
    if (this.periodic !== undefined || nowMs < this.nextAtMs) return undefined;
    this.nextAtMs = nowMs + this.intervalMs;
    const stamp = ++this.stamp;
    const checkpoints: LeaseCheckpoint[] = [];
    for (const { id, ttlMs, remainingMs } of leases) {
      if (ttlMs <= this.intervalMs || remainingMs <= 0 || remainingMs >= ttlMs || skip(id))
        continue;
      // Rounded up: a new leader may give a lease a little more time, never less.
      checkpoints.push([id, Math.ceil(remainingMs)]);
      this.reducedAt.set(id, stamp);
    }
    if (checkpoints.length === 0) return undefined;
    const run = async (): Promise<void> => {
      try {
        await this.proposeAll(checkpoints);
      } catch {
        // Tried again next interval. reducedAt stays: the entry may still commit.
      } finally {
        this.periodic = undefined;
      }
    };
    this.periodic = run();
    return this.periodic;
  }

  /**
   * The leader just renewed `id` in memory. Resolves once no checkpoint in
   * the log can give a new leader less than a full TTL from the renewal;
   * undefined when none could (nothing to wait for: the usual case).
   * `checkpointedInStore`: the applied state holds a reduced TTL for it.
   */
  afterRenewal(id: number, ttlMs: number, checkpointedInStore: boolean): Promise<void> | undefined {
    const reduced = this.reducedAt.get(id);
    if (reduced === undefined && !checkpointedInStore) return undefined;
    // A clear this leader proposed is after every entry applied before its
    // term began; it answers for this term's checkpoints only if proposed later.
    const clear = this.clears.get(id);
    if (clear !== undefined && clear.stamp > (reduced ?? 0)) return clear.done;
    let batch = this.collecting;
    if (batch === undefined) {
      const created = newBatch(++this.stamp);
      this.collecting = batch = created;
      queueMicrotask(() => this.flush(created));
    }
    batch.ttlsMs.set(id, ttlMs);
    this.clears.set(id, { stamp: batch.stamp, done: batch.done });
    return batch.done;
  }

  /** The lease was revoked. */
  forget(id: number): void {
    this.reducedAt.delete(id);
    this.clears.delete(id);
  }

  private flush(batch: ClearBatch): void {
    if (this.collecting === batch) this.collecting = undefined;
    const settle = (): void => {
      for (const id of batch.ttlsMs.keys()) {
        if (this.clears.get(id)?.stamp === batch.stamp) this.clears.delete(id);
      }
    };
    // A full TTL clears the lease's checkpoint in every store that applies it.
    this.proposeAll([...batch.ttlsMs]).then(
      () => {
        settle();
        for (const id of batch.ttlsMs.keys()) {
          const reduced = this.reducedAt.get(id);
          if (reduced !== undefined && reduced < batch.stamp) this.reducedAt.delete(id);
        }
        batch.resolve();
      },
      (err: unknown) => {
        settle();
        batch.reject(err);
      },
    );
  }

  private async proposeAll(checkpoints: LeaseCheckpoint[]): Promise<void> {
    checkpoints.sort((a, b) => a[0] - b[0]);
    const proposals: Promise<unknown>[] = [];
    for (let i = 0; i < checkpoints.length; i += MAX_CHECKPOINTS_PER_ENTRY) {
      proposals.push(this.propose(checkpoints.slice(i, i + MAX_CHECKPOINTS_PER_ENTRY)));
    }
    await Promise.all(proposals);
  }
}

function newBatch(stamp: number): ClearBatch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Every renewal waiting on the batch sees a failure; this only keeps an
  // unobserved one from being reported as unhandled.
  done.catch(() => {});
  return { stamp, ttlsMs: new Map(), done, resolve, reject };
}
