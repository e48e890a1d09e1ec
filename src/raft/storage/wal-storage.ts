import { join } from "node:path";
import { InvalidArgumentError } from "../../errors.js";
import type { LogStorage } from "../core/storage.js";
import type {
  ConfState,
  Entry,
  HardState,
  NodeId,
  Snapshot,
  SnapshotMetadata,
} from "../core/types.js";
import { EMPTY_CONF_STATE } from "../core/types.js";
import { ByteWriter } from "./codec.js";
import { StaleSnapshotError, StorageClosedError, StorageCorruptionError } from "./errors.js";
import { FileBackedSnapshot, type SnapshotPath } from "./file-snapshot.js";
import type { StorageFs } from "./fs.js";
import { isNotFound } from "./fs.js";
import type { LogWindow } from "./log-window.js";
import { NodeStorageFs } from "./node-fs.js";
import { openDataDir } from "./open-dir.js";
import {
  encodeBaseRecords,
  type LogPosition,
  writeEntriesRecords,
  writeHardStateRecord,
  writeTruncateRecord,
} from "./records.js";
import { type RecoveryReport, sameConfState } from "./recovery.js";
import {
  readSnapshotLayout,
  type SnapshotData,
  SnapshotReader,
  snapshotFileName,
  writeSnapshotTemp,
} from "./snapshot-file.js";
import { planSave, validateConfState, validateSnapshotMetadata } from "./validate.js";
import { WalWriter, type WriterStats } from "./writer.js";

export const DEFAULT_SEGMENT_MAX_BYTES = 64 * 1024 * 1024;
export const MIN_SEGMENT_MAX_BYTES = 1024;
const MAX_CLUSTER_ID_LENGTH = 256;

export interface WalStorageOptions {
  /** The cluster this directory belongs to; opening it for another cluster fails. */
  readonly clusterId: string;
  /** This member's id; opening the directory as another member fails. */
  readonly nodeId: NodeId;
  /** A segment is closed and a new one started once it reaches this size. Default 64 MiB. */
  readonly segmentMaxBytes?: number;
  /**
   * Entries kept before a new snapshot's index when createSnapshot compacts
   * the log, so a follower slightly behind can catch up from the log instead
   * of a snapshot transfer. Default 0. They are held in memory too.
   */
  readonly snapshotCatchUpEntries?: number;
  /** The file system; tests inject faults through it. Default: node:fs. */
  readonly fs?: StorageFs;
}

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

const NO_BYTES = new Uint8Array(0);

function stagedKey(m: { index: number; term: number }): string {
  return `${m.index}/${m.term}`;
}

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
  private snap: Snapshot;
  /** The newest snapshot known durable under its final file name. */
  private durableSnap: SnapshotMetadata;
  /** Settles when the newest snapshot change is durable (openSnapshot waits for it). */
  private snapshotSettled: Promise<void> = Promise.resolve();
  /** Durable snapshot files present in the directory, by name, with their index. */
  private readonly snapshotFiles = new Map<string, number>();
  private readonly staged = new Map<
    string,
    { metadata: SnapshotMetadata; location: SnapshotPath }
  >();
  private tmpCounter = 0;
  /** The newest snapshot index, including snapshots enqueued but not yet durable. */
  private snapshotIndexHigh: number;

  private constructor(
    readonly dir: string,
    private readonly fs: StorageFs,
    private readonly window: LogWindow,
    private hard: HardState,
    private snapMeta: SnapshotMetadata,
    private readonly writer: WalWriter,
    private readonly catchUpEntries: number,
    /** What open() found and repaired; log it. */
    readonly recovery: RecoveryReport,
  ) {
    this.durableSnap = snapMeta;
    this.snapshotIndexHigh = snapMeta.index;
    if (snapMeta.index === 0) {
      this.snap = EMPTY_SNAPSHOT;
    } else {
      const name = snapshotFileName(snapMeta);
      this.snapshotFiles.set(name, snapMeta.index);
      this.snap = new FileBackedSnapshot(snapMeta, fs, { path: join(dir, name) });
    }
  }

  /**
   * Opens the data directory `dir`, creating it when new. Throws
   * DataDirMismatchError when it belongs to another cluster or node,
   * StorageCorruptionError (naming file and offset) when stored data is
   * damaged anywhere but in a torn tail. A torn tail is truncated and
   * reported in `recovery`.
   */
  static async open(dir: string, options: WalStorageOptions): Promise<WalStorage> {
    if (typeof dir !== "string" || dir.length === 0) {
      throw new InvalidArgumentError("storage directory must be a non-empty path");
    }
    const { clusterId, nodeId } = options;
    if (
      typeof clusterId !== "string" ||
      clusterId.length === 0 ||
      clusterId.length > MAX_CLUSTER_ID_LENGTH
    ) {
      throw new InvalidArgumentError(
        `clusterId must be a non-empty string of at most ${MAX_CLUSTER_ID_LENGTH} characters`,
      );
    }
    if (!Number.isSafeInteger(nodeId) || nodeId <= 0) {
      throw new InvalidArgumentError(`nodeId must be a positive integer, got ${nodeId}`);
    }
    const segmentMaxBytes = options.segmentMaxBytes ?? DEFAULT_SEGMENT_MAX_BYTES;
    if (!Number.isSafeInteger(segmentMaxBytes) || segmentMaxBytes < MIN_SEGMENT_MAX_BYTES) {
      throw new InvalidArgumentError(
        `segmentMaxBytes must be an integer of at least ${MIN_SEGMENT_MAX_BYTES}, got ${segmentMaxBytes}`,
      );
    }
    const catchUp = options.snapshotCatchUpEntries ?? 0;
    if (!Number.isSafeInteger(catchUp) || catchUp < 0) {
      throw new InvalidArgumentError(
        `snapshotCatchUpEntries must be a non-negative integer, got ${catchUp}`,
      );
    }
    const fs = options.fs ?? new NodeStorageFs();
    const opened = await openDataDir(fs, dir, { clusterId, nodeId });
    const r = opened.recovered;
    const writer = new WalWriter(
      fs,
      dir,
      {
        file: opened.lastSegment,
        seq: r.lastSeq,
        closed: r.lastSegmentClosed,
        oldestSeq: r.baseSeq,
      },
      segmentMaxBytes,
    );
    return new WalStorage(
      dir,
      fs,
      r.window,
      r.hardState,
      r.snapshot,
      writer,
      catchUp,
      opened.report,
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
   * The latest snapshot. Its `data` is read from the file only when
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
    const staged =
      request.snapshot === undefined
        ? undefined
        : this.staged.get(stagedKey(request.snapshot.metadata));
    const plan = planSave(request, {
      base: this.window.base,
      lastIndex: this.window.lastIndex(),
      term: (i) => this.window.term(i),
      hardState: this.hard,
      snapshotIndex: this.snapshotIndexHigh,
      snapshotStaged: staged !== undefined,
    });
    let basePromise: Promise<void> | undefined;
    if (plan.snapshot !== undefined) {
      basePromise = this.installSnapshot(
        plan.snapshot,
        plan.snapshotHardState!,
        request.snapshot!,
        staged,
      );
    }
    const w = new ByteWriter(64);
    if (plan.truncateAfter !== undefined) {
      writeTruncateRecord(w, plan.truncateAfter);
      this.window.truncateAfter(plan.truncateAfter);
    }
    if (plan.append.length > 0) {
      writeEntriesRecords(w, plan.append);
      this.window.append(plan.append);
    }
    if (plan.hardState !== undefined) {
      writeHardStateRecord(w, plan.hardState);
      this.hard = plan.hardState;
    }
    const recordsPromise = this.writer.appendRecords(w.length > 0 ? w.view0() : NO_BYTES);
    // Both settle in order; waiting on both keeps a failure of either from going unobserved.
    if (basePromise === undefined) await recordsPromise;
    else await Promise.all([basePromise, recordsPromise]);
  }

  /** Replaces the log with a snapshot from the leader (synchronous part), returning its durability. */
  private installSnapshot(
    meta: SnapshotMetadata,
    hardState: HardState,
    snapshot: Snapshot,
    staged: { metadata: SnapshotMetadata; location: SnapshotPath } | undefined,
  ): Promise<void> {
    const name = snapshotFileName(meta);
    const finalPath = join(this.dir, name);
    const base: LogPosition = { index: meta.index, term: meta.term };
    let publish: () => Promise<void>;
    if (staged !== undefined) {
      this.staged.delete(stagedKey(meta));
      publish = async () => {
        await this.fs.rename(staged.location.path, finalPath);
        staged.location.path = finalPath;
        await this.fs.syncDir(this.dir);
      };
      this.snap = new FileBackedSnapshot(meta, this.fs, staged.location);
    } else {
      const data = snapshot.data;
      const tmp = this.tmpPath(meta);
      publish = async () => {
        await writeSnapshotTemp(this.fs, tmp, meta, data);
        await this.fs.rename(tmp, finalPath);
        await this.fs.syncDir(this.dir);
      };
      // The caller's bytes until the file is durable, then the file.
      this.snap = { metadata: meta, data };
    }
    this.window.reset(base);
    this.hard = hardState;
    this.snapMeta = meta;
    this.snapshotIndexHigh = meta.index;
    const done = this.writer.rewriteBase({
      beforeBase: publish,
      records: encodeBaseRecords(meta, base, [], hardState),
      afterBase: () => this.removeSnapshotsBefore(meta.index),
    });
    return this.trackSnapshot(done, meta, name);
  }

  /** Records a snapshot change once durable: the file becomes the snapshot handed out. */
  private trackSnapshot(done: Promise<void>, meta: SnapshotMetadata, name: string): Promise<void> {
    const settled = done.then(() => {
      this.snapshotFiles.set(name, meta.index);
      if (meta.index > this.durableSnap.index) this.durableSnap = meta;
      if (meta.index > this.snapMeta.index) this.snapMeta = meta;
      const handedOut = this.snap;
      if (
        meta.index === this.snapMeta.index &&
        (handedOut.metadata.index !== meta.index || !(handedOut instanceof FileBackedSnapshot))
      ) {
        this.snap = new FileBackedSnapshot(meta, this.fs, { path: join(this.dir, name) });
      }
    });
    this.snapshotSettled = settled.catch(() => {});
    return settled;
  }

  /** Removes snapshot files (and staged ones) older than the snapshot at `keep`, now durable. */
  private async removeSnapshotsBefore(keep: number): Promise<void> {
    for (const [name, index] of [...this.snapshotFiles]) {
      if (index >= keep) continue;
      this.snapshotFiles.delete(name);
      await this.fs.unlink(join(this.dir, name)).catch(() => {});
    }
    for (const [key, s] of [...this.staged]) {
      if (s.metadata.index > keep) continue;
      this.staged.delete(key);
      await this.fs.unlink(s.location.path).catch(() => {});
    }
  }

  private tmpPath(meta: { index: number; term: number }): string {
    return join(
      this.dir,
      `${snapshotFileName(meta).slice(0, -".snap".length)}.${++this.tmpCounter}.tmp`,
    );
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
    if (index <= this.snapshotIndexHigh)
      throw new StaleSnapshotError(index, this.snapshotIndexHigh);
    if (index > this.hard.commit) {
      throw new InvalidArgumentError(
        `snapshot index ${index} is beyond the persisted commit index ${this.hard.commit}`,
      );
    }
    const meta: SnapshotMetadata = { index, term: this.window.term(index), confState };
    const tmp = this.tmpPath(meta);
    await writeSnapshotTemp(this.fs, tmp, meta, data);
    const name = snapshotFileName(meta);
    const finalPath = join(this.dir, name);
    // The log may have moved on while the data was written.
    const stale =
      this.closed || this.writer.failed !== undefined || index <= this.snapshotIndexHigh;
    if (stale || index < this.window.base.index || this.window.term(index) !== meta.term) {
      await this.fs.unlink(tmp).catch(() => {});
      this.checkWritable();
      throw new StaleSnapshotError(index, this.snapshotIndexHigh);
    }
    this.snapshotIndexHigh = index;
    const done = this.rewriteBaseAt(
      meta,
      Math.max(this.window.base.index, index - this.catchUpEntries),
      async () => {
        await this.fs.rename(tmp, finalPath);
        await this.fs.syncDir(this.dir);
      },
    );
    await this.trackSnapshot(done, meta, name);
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
      afterBase: () => this.removeSnapshotsBefore(meta.index),
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
    if (index > this.durableSnap.index || index > this.snapMeta.index) {
      throw new InvalidArgumentError(
        `cannot compact to ${index}: past the snapshot at ${Math.min(this.durableSnap.index, this.snapMeta.index)}`,
      );
    }
    if (index <= this.window.base.index) return;
    await this.rewriteBaseAt(this.snapMeta, index);
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
    if (metadata.index <= this.snapshotIndexHigh) {
      throw new StaleSnapshotError(metadata.index, this.snapshotIndexHigh);
    }
    const tmp = this.tmpPath(metadata);
    await writeSnapshotTemp(this.fs, tmp, metadata, data);
    const key = stagedKey(metadata);
    const previous = this.staged.get(key);
    if (previous !== undefined) await this.fs.unlink(previous.location.path).catch(() => {});
    const location: SnapshotPath = { path: tmp };
    this.staged.set(key, { metadata, location });
    return new FileBackedSnapshot(metadata, this.fs, location);
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
    for (;;) {
      const meta = this.durableSnap;
      if (meta.index === 0) return new SnapshotReader(meta, undefined, "", undefined);
      const path = join(this.dir, snapshotFileName(meta));
      let file: Awaited<ReturnType<StorageFs["openReadable"]>>;
      try {
        file = await this.fs.openReadable(path);
      } catch (err) {
        // Replaced by a newer snapshot between reading the name and opening it.
        if (isNotFound(err) && this.durableSnap !== meta) continue;
        throw err;
      }
      try {
        const layout = await readSnapshotLayout(file, path);
        const m = layout.metadata;
        if (
          m.index !== meta.index ||
          m.term !== meta.term ||
          !sameConfState(m.confState, meta.confState)
        ) {
          throw new StorageCorruptionError(
            path,
            0,
            "snapshot file metadata differs from the WAL's snapshot record",
          );
        }
        return new SnapshotReader(meta, file, path, layout);
      } catch (err) {
        await file.close();
        throw err;
      }
    }
  }

  /** Waits for pending writes, then closes the files. Later writes reject with StorageClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.close();
    for (const s of this.staged.values()) await this.fs.unlink(s.location.path).catch(() => {});
    this.staged.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
