import { InvalidArgumentError } from "../../errors.js";
import type { LogStorage } from "../core/storage.js";
import type { ConfState, Entry, HardState, Snapshot, SnapshotMetadata } from "../core/types.js";
import { EMPTY_CONF_STATE } from "../core/types.js";
import { ByteWriter } from "./codec.js";
import type { DirLock } from "./dir-lock.js";
import { StaleSnapshotError, StorageClosedError } from "./errors.js";
import { FileBackedSnapshot } from "./file-snapshot.js";
import type { LogWindow } from "./log-window.js";
import { openDataDir } from "./open-dir.js";
import { resolveWalOptions, type WalStorageOptions } from "./options.js";
import {
  encodeBaseRecords,
  entriesOwnBytes,
  type LogPosition,
  writeEntriesRecords,
  writeHardStateRecord,
  writeTruncateRecord,
} from "./records.js";
import type { RecoveryReport } from "./recovery.js";
import type { SnapshotData, SnapshotReader } from "./snapshot-file.js";
import { SnapshotFiles } from "./snapshot-files.js";
import { planSave, validateConfState, validateSnapshotMetadata } from "./validate.js";
import { WalWriter, type WriterStats } from "./writer.js";

/** What one Ready asks to persist (a Ready itself fits). */
export interface PersistRequest {
  readonly hardState?: HardState;
  readonly entries?: readonly Entry[];
  readonly snapshot?: Snapshot;
}

export interface WalStats extends WriterStats {
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  /** Entries held in memory (everything after the compaction point). */
  readonly entriesInMemory: number;
  /** Their size by the core's measure: payload bytes plus 24 per entry. */
  readonly entryBytesInMemory: number;
}

const EMPTY_SNAPSHOT: Snapshot = {
  metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE },
  data: new Uint8Array(0),
};

/** A barrier: appends nothing, settles once everything before it is durable. */
const NO_PARTS: readonly Uint8Array[] = [];

/**
 * Durable Raft storage: a write-ahead log of checksummed records in segment
 * files plus snapshot files, in one data directory. It answers the core's
 * synchronous reads (LogStorage) from memory and persists what each Ready
 * asks with group-committed fdatasync. See docs/storage.md.
 *
 * Mutating calls update the in-memory state synchronously, in call order,
 * and return a promise that settles once the change is durable. After any
 * write or sync failure every later write rejects with StorageFailedError:
 * the node must stop and reopen the directory.
 */
export class WalStorage implements LogStorage, AsyncDisposable {
  private closed = false;
  /** The snapshot handed to the core. */
  private snap: Snapshot;
  /** The current snapshot as reads see it (a created one counts once durable). */
  private snapMeta: SnapshotMetadata;
  /** The newest snapshot enqueued, durable or not: what the disk will hold. */
  private latestSnap: SnapshotMetadata;
  /** Settles when the newest snapshot change is durable (openSnapshot waits for it). */
  private snapshotSettled: Promise<void> = Promise.resolve();

  private constructor(
    readonly dir: string,
    private readonly window: LogWindow,
    private hard: HardState,
    snapshot: SnapshotMetadata,
    private readonly writer: WalWriter,
    private readonly snapshots: SnapshotFiles,
    /** Entries kept behind a new snapshot: at most so many, and at most so many bytes. */
    private readonly catchUp: { readonly entries: number; readonly bytes: number },
    /** What open() found and repaired; log it. */
    readonly recovery: RecoveryReport,
    private readonly lock: DirLock,
  ) {
    this.snapMeta = snapshot;
    this.latestSnap = snapshot;
    this.snap = snapshot.index === 0 ? EMPTY_SNAPSHOT : snapshots.fileBacked(snapshot);
  }

  /**
   * Opens the data directory `dir`, creating it when new, and holds it until
   * close(). Throws DataDirLockedError when another process (or another open
   * WalStorage) holds it, DataDirMismatchError when it belongs to another cluster or node,
   * StorageCorruptionError (naming file and offset) when stored data is
   * damaged anywhere but in a torn tail. A torn tail is truncated and
   * reported in `recovery`.
   */
  static async open(dir: string, options: WalStorageOptions): Promise<WalStorage> {
    const o = resolveWalOptions(dir, options);
    const opened = await openDataDir(
      o.fs,
      dir,
      { clusterId: o.clusterId, nodeId: o.nodeId },
      o.mustBeNew,
    );
    const r = opened.recovered;
    let writer: WalWriter | undefined;
    const port = o.journal?.attach({ syncSegment: () => writer!.syncSegment() });
    writer = new WalWriter(
      o.fs,
      dir,
      {
        file: opened.lastSegment,
        seq: r.lastSeq,
        closed: r.lastSegmentClosed,
        oldestSeq: r.baseSeq,
      },
      o.segmentMaxBytes,
      port,
    );
    const snapshots = new SnapshotFiles(o.fs, dir, r.snapshot);
    return new WalStorage(
      dir,
      r.window,
      r.hardState,
      r.snapshot,
      writer,
      snapshots,
      { entries: o.snapshotCatchUpEntries, bytes: o.snapshotCatchUpBytes },
      opened.report,
      opened.lock,
    );
  }

  // ---- LogStorage: synchronous reads from memory ---------------------------

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hard, confState: this.snapMeta.confState };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.window.entries(lo, hi, maxBytes);
  }

  term(index: number): number {
    return this.window.term(index);
  }

  firstIndex(): number {
    return this.window.firstIndex();
  }

  lastIndex(): number {
    return this.window.lastIndex();
  }

  /**
   * The current snapshot. Its `data` is read from the file only when
   * accessed (see FileBackedSnapshot); stream large snapshots with
   * openSnapshot() instead.
   */
  snapshot(): Snapshot {
    return this.snap;
  }

  hardState(): HardState {
    return this.hard;
  }

  snapshotMetadata(): SnapshotMetadata {
    return this.snapMeta;
  }

  stats(): WalStats {
    return {
      ...this.writer.stats,
      firstIndex: this.window.firstIndex(),
      lastIndex: this.window.lastIndex(),
      snapshotIndex: this.snapMeta.index,
      entriesInMemory: this.window.length,
      entryBytesInMemory: this.window.bytes,
    };
  }

  // ---- writes ---------------------------------------------------------------

  private checkWritable(): void {
    if (this.closed) throw new StorageClosedError();
    const failed = this.writer.failed;
    if (failed) throw failed;
  }

  /**
   * Persists what a Ready asks, in the order Raft needs: the snapshot
   * (replacing the whole log), then the entries (a conflicting suffix is
   * truncated first), then the hard state. Resolves once all of it is
   * durable (fsynced); only then may the Ready's messages be sent. A call
   * with nothing to persist resolves once everything saved before it is
   * durable. Concurrent calls share syncs.
   *
   * A snapshot is taken from the file staged by receiveSnapshot() for the
   * same index and term when there is one, else from `snapshot.data`.
   *
   * Invalid input (a gap in the log, a term or commit going backwards, a
   * second vote in one term, replacing committed entries) rejects with
   * InvalidArgumentError and changes nothing.
   */
  async save(request: PersistRequest): Promise<void> {
    this.checkWritable();
    const plan = planSave(request, {
      base: this.window.base,
      lastIndex: this.window.lastIndex(),
      term: (i) => this.window.term(i),
      hardState: this.hard,
      snapshotIndex: this.latestSnap.index,
      snapshotStaged:
        request?.snapshot !== undefined && this.snapshots.hasStaged(request.snapshot.metadata),
    });
    let installed: Promise<void> | undefined;
    if (plan.snapshot !== undefined) {
      installed = this.installSnapshot(plan.snapshot, plan.snapshotHardState!, request.snapshot!);
    }
    // Big entries are written from where they lie: the records hold them as
    // parts, not copies (ByteWriter.ref), and one vectored write takes them all.
    const w = new ByteWriter(128 + entriesOwnBytes(plan.append));
    if (plan.truncateAfter !== undefined) {
      writeTruncateRecord(w, plan.truncateAfter);
      this.window.truncateAfter(plan.truncateAfter);
    }
    if (plan.append.length > 0) {
      writeEntriesRecords(w, plan.append);
      this.window.append(plan.append);
    }
    // A save that only moves the commit index need not wait for an fsync: the
    // commit index can be learned again from the leader after a crash (etcd's
    // MustSync). Its record is still written in order, so the save settles once
    // every earlier save is durable, and the next synced write covers it.
    const commitOnly =
      installed === undefined &&
      plan.truncateAfter === undefined &&
      plan.append.length === 0 &&
      plan.hardState !== undefined &&
      plan.hardState.term === this.hard.term &&
      plan.hardState.vote === this.hard.vote;
    if (plan.hardState !== undefined) {
      writeHardStateRecord(w, plan.hardState);
      this.hard = plan.hardState;
    }
    const appended = this.writer.appendRecords(w.length > 0 ? w.parts() : NO_PARTS, !commitOnly);
    // Both settle in order; waiting on both keeps a failure of either from going unobserved.
    if (installed === undefined) await appended;
    else await Promise.all([installed, appended]);
  }

  /** Replaces the log with a leader's snapshot now; the promise settles when that is durable. */
  private installSnapshot(
    meta: SnapshotMetadata,
    hardState: HardState,
    snapshot: Snapshot,
  ): Promise<void> {
    const files = this.snapshots;
    const staged = files.takeStaged(meta);
    let publish: () => Promise<void>;
    if (staged !== undefined) {
      publish = () => files.publishStaged(staged);
      this.snap = files.fileBackedStaged(staged);
    } else {
      const data = snapshot.data;
      publish = async () => files.publish(await files.writeTemp(meta, data), meta);
      // The caller's bytes until the file is durable, then the file.
      this.snap = { metadata: meta, data };
    }
    const base: LogPosition = { index: meta.index, term: meta.term };
    this.window.reset(base);
    this.hard = hardState;
    this.snapMeta = meta;
    this.latestSnap = meta;
    const done = this.writer.rewriteBase({
      beforeBase: publish,
      records: encodeBaseRecords(meta, base, [], hardState),
      afterBase: () => files.removeBefore(meta.index),
    });
    return this.trackSnapshot(done, meta);
  }

  /** Once a snapshot change is durable, the file becomes the snapshot handed out. */
  private trackSnapshot(done: Promise<void>, meta: SnapshotMetadata): Promise<void> {
    const settled = done.then(() => {
      this.snapshots.markDurable(meta);
      if (meta.index > this.snapMeta.index) this.snapMeta = meta;
      const handedOut = this.snap;
      const stale =
        handedOut.metadata.index !== meta.index || !(handedOut instanceof FileBackedSnapshot);
      if (meta.index === this.snapMeta.index && stale) this.snap = this.snapshots.fileBacked(meta);
    });
    this.snapshotSettled = settled.catch(() => {});
    return settled;
  }

  /**
   * Takes a snapshot of the application state at `index` (at most the
   * persisted commit index): writes `data` (bytes or a stream of chunks) to
   * a temporary file, fsyncs, renames it into place, fsyncs the directory,
   * then starts a new base segment and compacts the log to `index` (minus
   * `snapshotCatchUpEntries`). Older segments and snapshot files are removed
   * only after the new snapshot and base are durable. Resolves with the
   * snapshot's metadata once all of that is durable.
   *
   * Rejects with StaleSnapshotError when `index` is not newer than the
   * current snapshot (also when a newer one arrived while this one was
   * written).
   */
  async createSnapshot(
    index: number,
    confState: ConfState,
    data: SnapshotData,
  ): Promise<SnapshotMetadata> {
    this.checkWritable();
    if (!Number.isSafeInteger(index) || index <= 0) {
      throw new InvalidArgumentError(`snapshot index must be a positive integer, got ${index}`);
    }
    validateConfState(confState, "snapshot configuration");
    if (index <= this.latestSnap.index) throw new StaleSnapshotError(index, this.latestSnap.index);
    if (index > this.hard.commit) {
      throw new InvalidArgumentError(
        `snapshot index ${index} is beyond the persisted commit index ${this.hard.commit}`,
      );
    }
    const meta: SnapshotMetadata = { index, term: this.window.term(index), confState };
    // The commit index may have been written without an fsync; make it durable
    // first so no recovery finds a snapshot beyond its commit index.
    await this.writer.appendRecords(NO_PARTS, true);
    const tmp = await this.snapshots.writeTemp(meta, data);
    // The log may have moved on while the data was written.
    const stale =
      this.closed ||
      this.writer.failed !== undefined ||
      index <= this.latestSnap.index ||
      index < this.window.base.index ||
      this.window.term(index) !== meta.term;
    if (stale) {
      await this.snapshots.discard(tmp);
      this.checkWritable();
      throw new StaleSnapshotError(index, this.latestSnap.index);
    }
    this.latestSnap = meta;
    const baseIndex = Math.max(
      this.window.base.index,
      index - this.catchUp.entries,
      this.window.floorKeeping(index, this.catchUp.bytes),
    );
    const done = this.rewriteBaseAt(meta, baseIndex, () => this.snapshots.publish(tmp, meta));
    await this.trackSnapshot(done, meta);
    return meta;
  }

  /**
   * Enqueues a new base segment for snapshot `meta` with the log compacted
   * to `baseIndex`. Memory is compacted once the base is durable, so reads
   * never miss entries the disk still needs.
   */
  private rewriteBaseAt(
    meta: SnapshotMetadata,
    baseIndex: number,
    beforeBase?: () => Promise<void>,
  ): Promise<void> {
    const base: LogPosition = { index: baseIndex, term: this.window.term(baseIndex) };
    const done = this.writer.rewriteBase({
      ...(beforeBase ? { beforeBase } : {}),
      records: encodeBaseRecords(meta, base, this.window.entriesAfter(baseIndex), this.hard),
      afterBase: () => this.snapshots.removeBefore(meta.index),
    });
    return done.then(() => {
      if (baseIndex > this.window.base.index && baseIndex <= this.window.lastIndex()) {
        this.window.compactTo(baseIndex);
      }
    });
  }

  /**
   * Discards log entries up to `index`, which must not be past the current
   * snapshot (entries kept by snapshotCatchUpEntries can be dropped this way
   * once no follower needs them). Resolves once durable.
   */
  async compact(index: number): Promise<void> {
    this.checkWritable();
    if (!Number.isSafeInteger(index) || index < 0) {
      throw new InvalidArgumentError(
        `compaction index must be a non-negative integer, got ${index}`,
      );
    }
    const snap = this.latestSnap;
    if (index > snap.index) {
      throw new InvalidArgumentError(
        `cannot compact to ${index}: past the snapshot at ${snap.index}`,
      );
    }
    if (index <= this.window.base.index) return;
    // The newest snapshot, even one still being made durable: the base written
    // here must not take the disk back to an older snapshot.
    await this.rewriteBaseAt(snap, index);
  }

  /**
   * Writes a snapshot received from the leader to a temporary file (fsynced)
   * without installing it, and returns a Snapshot (data read lazily) for the
   * node to step into the core inside the Snap message. When the core
   * accepts it, the next Ready carries it and save() installs the staged
   * file by renaming it. Staging first keeps the core in charge: a stale
   * snapshot the core refuses never replaces the log. Staged files the core
   * refused are removed once a newer snapshot is durable, or by close().
   */
  async receiveSnapshot(metadata: SnapshotMetadata, data: SnapshotData): Promise<Snapshot> {
    this.checkWritable();
    validateSnapshotMetadata(metadata);
    if (metadata.index <= this.latestSnap.index) {
      throw new StaleSnapshotError(metadata.index, this.latestSnap.index);
    }
    const tmp = await this.snapshots.writeTemp(metadata, data);
    if (this.closed) {
      await this.snapshots.discard(tmp);
      throw new StorageClosedError();
    }
    return this.snapshots.stage(metadata, tmp);
  }

  /**
   * Opens the newest durable snapshot for streaming (to a follower, or to
   * restore the state machine at startup). The reader holds the file open,
   * so it stays readable even if a newer snapshot replaces it meanwhile.
   * For index 0 (no snapshot yet) the reader yields no data.
   */
  async openSnapshot(): Promise<SnapshotReader> {
    if (this.closed) throw new StorageClosedError();
    await this.snapshotSettled;
    return this.snapshots.openReader();
  }

  /** Waits for pending writes, then closes the files. Later writes reject with StorageClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.writer.close();
      await this.snapshots.discardAllStaged();
    } finally {
      await this.lock.release();
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
