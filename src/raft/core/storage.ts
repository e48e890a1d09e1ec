import type { ConfState, Entry, HardState, Snapshot } from "./types.js";

/**
 * The read side of stable storage, as the core sees it. Reads are synchronous:
 * a durable implementation keeps what the core may ask for (recent entries,
 * terms) in memory or reads it synchronously.
 *
 * Index `firstIndex() - 1` is the last index covered by the latest snapshot;
 * `term()` must answer for it too.
 */
export interface LogStorage {
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * Entries in [lo, hi), at most `maxBytes` in total but always at least one
   * when lo < hi. Throws LogCompactedError when lo <= the snapshot index and
   * LogUnavailableError when hi > lastIndex() + 1.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of the entry at `index`, for firstIndex() - 1 <= index <= lastIndex(). */
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  /** The latest snapshot; may throw SnapshotTemporarilyUnavailableError. */
  snapshot(): Snapshot;
}
