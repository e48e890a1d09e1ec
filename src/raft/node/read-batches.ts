import type { Clock } from "../../clock.js";
import { type NodeId, NotLeaderError, type ReadState } from "../core/index.js";
import { Pending } from "./waiters.js";

/**
 * Linearizable reads waiting on ReadIndex, batched: a ReadIndex costs the
 * leader a heartbeat round, so reads share one. As etcd's read loop does,
 * one batch is asked at a time: reads that arrive while it is unanswered
 * wait for the next, so under load every round serves all the reads of a
 * round trip rather than those of one loop turn. A batch unanswered for
 * `retryMs` (its messages lost) no longer holds the next back. A read
 * resolves once the node has applied up to the read point its batch was
 * granted.
 */
export class ReadBatches {
  private readonly reads = new Map<string, Pending<void>>();
  /** Read index granted per read, waiting for apply to catch up. */
  private readonly readPoints = new Map<string, number>();
  /** Reads waiting for the next batch. */
  private queued: string[] = [];
  /** ReadIndex requests in flight: batch context -> the reads it serves. */
  private readonly batches = new Map<string, string[]>();
  private batchCounter = 0;
  private readCounter = 0;
  /** The batch asked last, while unanswered, and when it was asked. */
  private asked: { readonly batch: string; readonly atMs: number } | undefined;

  constructor(
    private readonly clock: Clock,
    /** Makes batch contexts unique to this node and incarnation (see next()). */
    private readonly contextPrefix: string,
    /** How long an unanswered batch holds the next back. */
    private readonly retryMs: number,
  ) {}

  /** Reads not yet settled. */
  get pending(): number {
    return this.reads.size;
  }

  /** Adds a read; `kick` is called (from a microtask) when the first read of a batch arrives. */
  add(timeoutMs: number, signal: AbortSignal | undefined, kick: () => void): Promise<void> {
    const ctx = `${++this.readCounter}`;
    const pending = new Pending<void>(this.clock, "read", timeoutMs, signal, () => {
      this.reads.delete(ctx);
      this.readPoints.delete(ctx);
    });
    this.reads.set(ctx, pending);
    this.queued.push(ctx);
    // From a microtask, so that reads issued in the same turn share a batch.
    if (this.queued.length === 1) queueMicrotask(kick);
    return pending.promise;
  }

  /**
   * Takes every read queued since the last batch into a new batch and hands
   * its context to `readIndex`, unless the batch asked last is still
   * unanswered (for less than `retryMs`). A batch the leader never answered
   * (it stepped down, the request was lost) is forgotten once every read it
   * served has settled.
   */
  issue(readIndex: (context: string) => void): void {
    if (this.queued.length === 0) return;
    for (const [batch, waiting] of this.batches) {
      if (!waiting.some((ctx) => this.reads.has(ctx))) this.batches.delete(batch);
    }
    const asked = this.asked;
    if (
      asked !== undefined &&
      this.batches.has(asked.batch) &&
      this.clock.now() - asked.atMs < this.retryMs
    ) {
      return;
    }
    this.asked = undefined;
    const members = this.queued.filter((ctx) => this.reads.has(ctx));
    this.queued = [];
    if (members.length === 0) return;
    // The prefix's nonce keeps a late answer to a batch sent before a restart
    // from matching a new one with the same counter.
    const batch = `${this.contextPrefix}:${++this.batchCounter}`;
    this.batches.set(batch, members);
    this.asked = { batch, atMs: this.clock.now() };
    try {
      readIndex(batch);
    } catch (err) {
      this.asked = undefined;
      this.batches.delete(batch);
      for (const ctx of members) this.reads.get(ctx)?.reject(err as Error);
    }
  }

  /** The core granted read points (a Ready's readStates). */
  granted(readStates: readonly ReadState[]): void {
    for (const rs of readStates) {
      const members = this.batches.get(rs.context);
      this.batches.delete(rs.context);
      for (const ctx of members ?? []) {
        if (this.reads.has(ctx)) this.readPoints.set(ctx, rs.index);
      }
    }
  }

  /** Resolves every read whose read point is applied. */
  applied(appliedIndex: number): void {
    for (const [ctx, index] of this.readPoints) {
      if (appliedIndex >= index) this.reads.get(ctx)?.resolve();
    }
  }

  /**
   * A leader that steps down drops the ReadIndex requests it had not yet
   * confirmed: fail those reads now rather than at their timeout.
   */
  leadershipLost(lead: NodeId): void {
    for (const [ctx, pending] of [...this.reads]) {
      if (!this.readPoints.has(ctx)) pending.reject(new NotLeaderError(lead, "read"));
    }
  }

  failAll(err: Error): void {
    for (const p of [...this.reads.values()]) p.reject(err);
  }
}
