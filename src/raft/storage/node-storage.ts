import type {
  ConfState,
  Entry,
  HardState,
  LogStorage,
  Snapshot,
  SnapshotMetadata,
} from "../core/index.js";

/** What one Ready asks storage to make durable (a Ready itself fits). */
export interface PersistUpdate {
  readonly hardState?: HardState;
  readonly entries?: readonly Entry[];
  readonly snapshot?: Snapshot;
}

/** A snapshot being read: its metadata and its bytes in chunks. Close it when done. */
export interface SnapshotSource {
  readonly metadata: SnapshotMetadata;
  chunks(): AsyncIterable<Uint8Array>;
  close(): Promise<void>;
}

/**
 * Storage as the node runtime drives it: the core's synchronous read side
 * plus durable writes. Implemented by WalStorage (files, fsync) and
 * MemoryStorage (tests, simulation).
 */
export interface NodeStorage extends LogStorage {
  /** Resolves only once the update is on stable storage. */
  save(update: PersistUpdate): Promise<void>;
  /**
   * Records an application snapshot taken at applied `index`, with the
   * configuration at that index, and discards the log before it (keeping
   * whatever catch-up tail the implementation is configured to keep).
   */
  createSnapshot(
    index: number,
    confState: ConfState,
    data: Uint8Array | AsyncIterable<Uint8Array>,
  ): Promise<unknown>;
  /** The latest snapshot's bytes as a stream (for restoring and sending without holding it whole). */
  openSnapshot(): Promise<SnapshotSource>;
  /**
   * Takes in a snapshot streamed from the leader without installing it: the
   * returned Snapshot is stepped into the core, and installed by the `save`
   * of the Ready that accepts it.
   */
  receiveSnapshot(metadata: SnapshotMetadata, data: AsyncIterable<Uint8Array>): Promise<Snapshot>;
  close(): Promise<void>;
}
