export type { NodeStorage, PersistUpdate, SnapshotSource } from "../storage/node-storage.js";
export type { PeerAddress, Transport, TransportStats } from "../transport/transport.js";

/** The replicated application. `apply` must be deterministic: same entries, same state. */
export interface StateMachine<Result> {
  apply(entry: {
    readonly index: number;
    readonly term: number;
    readonly data: Uint8Array;
  }): Result;
  /**
   * The whole state as of the last applied entry, at the moment of the call:
   * bytes, or a stream that keeps showing that moment while the node goes on
   * applying later entries (it is read in the background, see maybeSnapshot).
   * The node may stop reading it early (`return()` on its iterator) when the
   * snapshot is abandoned.
   */
  snapshot(): Uint8Array | AsyncIterable<Uint8Array>;
  /** Replaces the whole state from a snapshot's bytes, streamed. */
  restore(data: AsyncIterable<Uint8Array>): void | Promise<void>;
  /**
   * For a state machine that keeps its own durable state (a disk backend):
   * the last entry index it holds when the node starts. The node then skips
   * restoring a snapshot that is not newer, and does not apply those entries
   * again; only the log after it is replayed.
   */
  readonly appliedIndex?: number;
  /**
   * For a state machine that keeps its own durable state: resolves once
   * everything it applied before the call is on stable storage. With it the
   * node's snapshots hold no copy of the state (the state machine's storage
   * is the snapshot; the log is compacted only once this resolved), and a
   * follower that needs a snapshot is sent `snapshot()` as of the moment of
   * sending. Implies `appliedIndex`.
   */
  readonly persisted?: () => Promise<void>;
  /**
   * Told of each applied entry that carries nothing for it (a new leader's
   * empty entry, a membership change), so the applied index it keeps is the node's.
   */
  advance?(index: number): void;
}
