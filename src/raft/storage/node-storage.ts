import type { ConfState, Entry, HardState, LogStorage, Snapshot } from "../core/index.js";

/** What one Ready asks storage to make durable. */
export interface PersistUpdate {
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
}

/**
 * Durable storage as the node runtime drives it: the core's synchronous read
 * side plus asynchronous, durable writes.
 */
export interface NodeStorage extends LogStorage {
  /** Resolves only once the update is on stable storage (synced when `sync`). */
  save(update: PersistUpdate, sync: boolean): Promise<void>;
  /**
   * Records an application snapshot taken at applied `index` (with the
   * configuration at that index) and lets the log before it be discarded,
   * keeping `keepEntries` entries for slow followers.
   */
  saveSnapshot(
    index: number,
    confState: ConfState,
    data: Uint8Array,
    keepEntries: number,
  ): Promise<void>;
  close(): Promise<void>;
}
