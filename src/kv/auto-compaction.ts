import { type Clock, repeatEvery, systemClock } from "../clock.js";
import { InvalidArgumentError } from "../errors.js";
import { CompactedError } from "./errors.js";
import type { KvReplica } from "./replica.js";

/**
 * Automatic compaction on the leader, after etcd's `--auto-compaction-mode`:
 *
 * - periodic: keep `retentionMs` of history. Every member samples the
 *   revision every min(retention, 1 h) / 10; the leader compacts to the
 *   newest sample at least one retention old, first one retention after
 *   start, then at most every min(retention, 1 h).
 * - revision: every five minutes the leader compacts to the current
 *   revision minus `retainRevisions`.
 *
 * Compaction goes through the log like any client's, so every replica drops
 * the same history; followers only sample, so a new leader knows the past.
 */
export type AutoCompactionPolicy =
  | { readonly mode: "periodic"; readonly retentionMs: number }
  | { readonly mode: "revision"; readonly retainRevisions: number };

/** What the loop reads and does: a RaftNode, a KvStore and a write path (see KvReplica). */
export interface AutoCompactionSources {
  status(): { readonly role: string };
  /** The store's current revision. */
  revision(): number;
  /** The store's compaction point. */
  compactRevision(): number;
  /** Proposes a compaction through the log; settles once it was applied (or failed). */
  compact(revision: number): Promise<unknown>;
}

export interface AutoCompactionOptions {
  readonly policy: AutoCompactionPolicy;
  /** The member's monotonic clock and timers; the process's by default. */
  readonly clock?: Clock;
  /** Called after a compaction this loop proposed was applied. */
  readonly onCompacted?: (revision: number) => void;
  /** Called when a proposed compaction failed; it is tried again on a later tick. */
  readonly onError?: (err: unknown) => void;
}

const HOUR_MS = 60 * 60 * 1000;
/** etcd's revision-mode interval. */
export const REVISION_COMPACTION_INTERVAL_MS = 5 * 60 * 1000;
/** Periodic mode samples this many times per compaction interval (etcd's retryDivisor). */
const SAMPLES_PER_INTERVAL = 10;

function checkPolicy(policy: AutoCompactionPolicy): void {
  const [name, value] =
    policy.mode === "periodic"
      ? ["retentionMs", policy.retentionMs]
      : ["retainRevisions", policy.retainRevisions];
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidArgumentError(
      `auto-compaction ${name} must be a positive integer, got ${value}`,
    );
  }
}

export class AutoCompaction {
  private readonly clock: Clock;
  private readonly tickMs: number;
  private cancelTimer: (() => void) | undefined;
  /** Periodic mode: revisions seen, oldest first, none older than needed. */
  private samples: { atMs: number; revision: number }[] = [];
  private lastSuccessMs = 0;
  /** The first compaction waits a whole retention, later ones the compaction interval. */
  private compactedOnce = false;
  private lastRevision = 0;
  private compacting = false;

  constructor(
    private readonly sources: AutoCompactionSources,
    private readonly options: AutoCompactionOptions,
  ) {
    checkPolicy(options.policy);
    this.clock = options.clock ?? systemClock;
    const policy = options.policy;
    this.tickMs =
      policy.mode === "periodic"
        ? Math.max(1, Math.floor(Math.min(policy.retentionMs, HOUR_MS) / SAMPLES_PER_INTERVAL))
        : REVISION_COMPACTION_INTERVAL_MS;
  }

  /** The revision this loop last compacted to (0: none yet). */
  get lastCompactedRevision(): number {
    return this.lastRevision;
  }

  start(): void {
    if (this.cancelTimer !== undefined) return;
    const nowMs = this.clock.now();
    this.lastSuccessMs = nowMs;
    this.compactedOnce = false;
    this.samples = [{ atMs: nowMs, revision: this.sources.revision() }];
    this.cancelTimer = repeatEvery(this.clock, this.tickMs, () => void this.tick());
  }

  stop(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.stop();
  }

  private async tick(): Promise<void> {
    const nowMs = this.clock.now();
    const target = this.target(nowMs);
    if (this.options.policy.mode === "periodic") {
      this.samples.push({ atMs: nowMs, revision: this.sources.revision() });
    }
    if (target === undefined || this.compacting) return;
    if (this.sources.status().role !== "leader") return;
    if (target <= this.sources.compactRevision()) return;
    this.compacting = true;
    try {
      await this.sources.compact(target);
      this.succeeded(target, nowMs);
      this.options.onCompacted?.(target);
    } catch (err) {
      // Another compaction got there first: the history is gone either way.
      if (err instanceof CompactedError) this.succeeded(target, nowMs);
      else this.options.onError?.(err);
    } finally {
      this.compacting = false;
    }
  }

  private succeeded(revision: number, nowMs: number): void {
    this.lastRevision = revision;
    this.lastSuccessMs = nowMs;
    this.compactedOnce = true;
  }

  /** The revision to compact to now, or undefined when it is not time. */
  private target(nowMs: number): number | undefined {
    const policy = this.options.policy;
    if (policy.mode === "revision") {
      const target = this.sources.revision() - policy.retainRevisions;
      return target <= 0 || target === this.lastRevision ? undefined : target;
    }
    // Drop samples a newer one already covers: the newest at least one retention old stays.
    const cutoffMs = nowMs - policy.retentionMs;
    while (this.samples.length > 1 && this.samples[1]!.atMs <= cutoffMs) this.samples.shift();
    const oldest = this.samples[0];
    if (oldest === undefined || oldest.atMs > cutoffMs) return undefined;
    const waitMs = this.compactedOnce ? Math.min(policy.retentionMs, HOUR_MS) : policy.retentionMs;
    if (nowMs - this.lastSuccessMs < waitMs) return undefined;
    return oldest.revision === this.lastRevision ? undefined : oldest.revision;
  }
}

/** The loop's sources over a member's replica: its node's role, its store, its write path. */
export function replicaCompactionSources(
  replica: Pick<KvReplica, "node" | "store" | "write">,
): AutoCompactionSources {
  return {
    status: () => replica.node.status(),
    revision: () => replica.store.revision,
    compactRevision: () => replica.store.compactRevision,
    compact: (revision) => replica.write({ type: "compact", revision }),
  };
}
