import { join } from "node:path";
import { partsByteLength } from "../../byte-parts.js";
import { ByteWriter } from "./codec.js";
import { StorageFailedError } from "./errors.js";
import type { StorageFs, WritableFile } from "./fs.js";
import { isNotFound } from "./fs.js";
import type { JournalPort } from "./journal.js";
import { writeSegmentEndRecord } from "./records.js";
import { encodeSegmentHeader, SegmentKind, segmentFileName } from "./segment.js";

interface Deferred {
  resolve(): void;
  reject(err: unknown): void;
}

/** Records appended to the current segment; no bytes at all act as a barrier. */
interface RecordsOp {
  readonly kind: "records";
  /** False: written in order, made durable by the next group that syncs (or never, on a crash). */
  readonly sync: boolean;
  /** The records' bytes, in parts written back to back (ByteWriter.parts). */
  readonly parts: readonly Uint8Array[];
  readonly done: Deferred;
}

/**
 * A new base segment replacing every older one: optionally publish a
 * snapshot file first, then write the segment atomically, then remove what
 * it supersedes.
 */
export interface BaseRewrite {
  /** Runs first, e.g. makes the snapshot file the base refers to durable under its final name. */
  readonly beforeBase?: () => Promise<void>;
  /** Records of the base segment (after its header), in chunks (each in parts) written one at a time. */
  readonly records: Iterable<readonly Uint8Array[]>;
  /** Runs once the base is durable; failures here are ignored (open() removes leftovers). */
  readonly afterBase?: () => Promise<void>;
}

interface BaseOp {
  readonly kind: "base";
  readonly rewrite: BaseRewrite;
  readonly done: Deferred;
}

/** fdatasync of the current segment after everything queued before (a journal checkpoint). */
interface SyncSegmentOp {
  readonly kind: "syncSegment";
  readonly done: Deferred;
}

type WriterOp = RecordsOp | BaseOp | SyncSegmentOp;

export interface WriterStats {
  /** fdatasync calls on segments for appended records (with a journal: its checkpoints'). */
  readonly recordSyncs: number;
  /** Appends (save calls with records) made durable. */
  readonly recordAppends: number;
  readonly bytesAppended: number;
  readonly segmentsCreated: number;
  readonly baseRewrites: number;
}

/**
 * The single writer of the WAL. Operations run strictly in the order they
 * were enqueued. Consecutive record appends are coalesced: one write and one
 * fdatasync cover every record enqueued while the previous sync was running
 * (group commit), and each caller's promise settles only after the sync that
 * covers its records. The first failure poisons the writer: what is on disk
 * is then unknown, so every pending and later operation is rejected.
 */
export class WalWriter {
  private readonly queue: WriterOp[] = [];
  private running = false;
  private failure: StorageFailedError | undefined;
  private current: WritableFile;
  private currentSeq: number;
  private currentClosed: boolean;
  /** Bytes appended since the last datasync (records written without sync). */
  private unsynced = false;
  private oldestSeq: number;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};
  private closing = false;
  private stats_ = {
    recordSyncs: 0,
    recordAppends: 0,
    bytesAppended: 0,
    segmentsCreated: 0,
    baseRewrites: 0,
  };

  constructor(
    private readonly fs: StorageFs,
    private readonly dir: string,
    opened: { file: WritableFile; seq: number; closed: boolean; oldestSeq: number },
    private readonly segmentMaxBytes: number,
    /**
     * With a shared journal, appended records are made durable by the
     * journal (one fdatasync for many WALs) instead of a sync of the segment.
     */
    private readonly journal?: JournalPort,
  ) {
    this.current = opened.file;
    this.currentSeq = opened.seq;
    this.currentClosed = opened.closed;
    this.oldestSeq = opened.oldestSeq;
  }

  get failed(): StorageFailedError | undefined {
    return this.failure;
  }

  get stats(): WriterStats {
    return { ...this.stats_ };
  }

  /**
   * Appends records; the promise settles once they are on disk, and durable
   * unless `sync` is false (then a later synced append, or close, makes them so).
   */
  appendRecords(parts: readonly Uint8Array[], sync = true): Promise<void> {
    return this.enqueue((done) => ({ kind: "records", parts, sync, done }));
  }

  rewriteBase(rewrite: BaseRewrite): Promise<void> {
    return this.enqueue((done) => ({ kind: "base", rewrite, done }));
  }

  /** fdatasync of the current segment once everything enqueued before is written. */
  syncSegment(): Promise<void> {
    if (this.closing) return Promise.resolve();
    return this.enqueue((done) => ({ kind: "syncSegment", done }));
  }

  /** Resolves once every operation enqueued so far has completed (or the writer failed). */
  drained(): Promise<void> {
    return this.idle;
  }

  /** Waits for pending work, then closes the current segment. */
  async close(): Promise<void> {
    this.closing = true;
    await this.idle;
    // The journal may forget this WAL only once its segment holds what it journalled.
    if (this.journal !== undefined && this.unsynced && this.failure === undefined) {
      await this.current.datasync();
      this.unsynced = false;
    }
    this.journal?.detach();
    await this.current.close().catch(() => {});
  }

  private enqueue(make: (done: Deferred) => WriterOp): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.queue.push(make({ resolve, reject }));
      if (!this.running) {
        this.running = true;
        this.idle = new Promise((r) => {
          this.markIdle = r;
        });
        // Let the caller's synchronous code enqueue more before the first write.
        queueMicrotask(() => void this.run());
      }
    });
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0) {
      const op = this.queue[0]!;
      try {
        if (op.kind === "records") {
          let n = 0;
          while (n < this.queue.length && this.queue[n]!.kind === "records") n++;
          const group = this.queue.slice(0, n) as RecordsOp[];
          await this.writeGroup(group);
          this.queue.splice(0, n);
          for (const g of group) g.done.resolve();
        } else if (op.kind === "base") {
          await this.writeBase(op.rewrite);
          this.queue.shift();
          op.done.resolve();
        } else {
          if (this.unsynced) {
            await this.current.datasync();
            this.unsynced = false;
            this.stats_.recordSyncs++;
          }
          this.queue.shift();
          op.done.resolve();
        }
      } catch (err) {
        this.fail(err);
        break;
      }
    }
    this.running = false;
    this.markIdle();
  }

  private fail(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.failure = new StorageFailedError(`a WAL write or sync failed: ${message}`, { cause: err });
    for (const op of this.queue.splice(0)) op.done.reject(this.failure);
  }

  private async writeGroup(group: readonly RecordsOp[]): Promise<void> {
    const parts: Uint8Array[] = [];
    let appends = 0;
    for (const g of group) {
      if (g.parts.length > 0) appends++;
      for (const p of g.parts) if (p.length > 0) parts.push(p);
    }
    const total = partsByteLength(parts);
    const sync = group.some((g) => g.sync);
    if (total > 0) {
      if (this.currentClosed || this.current.sizeBytes >= this.segmentMaxBytes) await this.rotate();
      // Every record of the group in one vectored write, none of them copied.
      const offset = this.current.sizeBytes;
      await this.current.appendParts(parts);
      this.unsynced = true;
      this.stats_.recordAppends += appends;
      this.stats_.bytesAppended += total;
      if (this.journal !== undefined) {
        // Durable once the journal holds them; the segment is synced later.
        await this.journal.append(this.currentSeq, offset, parts);
        return;
      }
    }
    // With a journal, a barrier is durable already: everything before it was journalled.
    if (this.journal !== undefined) return;
    // A barrier (no bytes) is durable once everything before it is.
    if (sync && this.unsynced) {
      await this.current.datasync();
      this.unsynced = false;
      this.stats_.recordSyncs++;
    }
  }

  /** Closes the current segment with a SegmentEnd record and starts the next one. */
  private async rotate(): Promise<void> {
    const nextSeq = this.currentSeq + 1;
    if (!this.currentClosed) {
      const w = new ByteWriter(32);
      writeSegmentEndRecord(w, nextSeq);
      await this.current.append(w.finish());
      await this.current.datasync();
      this.unsynced = false;
      this.currentClosed = true;
    }
    const file = await this.createSegment(nextSeq, SegmentKind.Continuation, []);
    await this.current.close();
    this.current = file;
    this.currentSeq = nextSeq;
    this.currentClosed = false;
  }

  private async createSegment(
    seq: number,
    kind: SegmentKind,
    records: Iterable<readonly Uint8Array[]>,
  ): Promise<WritableFile> {
    const file = await publishSegment(this.fs, this.dir, seq, kind, records);
    this.stats_.segmentsCreated++;
    return file;
  }

  private async writeBase(rewrite: BaseRewrite): Promise<void> {
    await rewrite.beforeBase?.();
    const seq = this.currentSeq + 1;
    const file = await this.createSegment(seq, SegmentKind.Base, rewrite.records);
    await this.current.close();
    this.current = file;
    this.currentSeq = seq;
    this.currentClosed = false;
    this.stats_.baseRewrites++;
    // The new base is durable: older segments are now dead weight.
    for (let s = this.oldestSeq; s < seq; s++) {
      try {
        await this.fs.unlink(join(this.dir, segmentFileName(s)));
      } catch (err) {
        if (!isNotFound(err)) break;
      }
    }
    this.oldestSeq = seq;
    try {
      await rewrite.afterBase?.();
    } catch {
      // Leftovers are removed by the next open().
    }
  }
}

/**
 * Writes a whole segment under a temporary name, fsyncs it, renames it into
 * place and fsyncs the directory, so a segment file either exists complete
 * or not at all. Returns it opened for appending.
 */
export async function publishSegment(
  fs: StorageFs,
  dir: string,
  seq: number,
  kind: SegmentKind,
  records: Iterable<readonly Uint8Array[]>,
): Promise<WritableFile> {
  const path = join(dir, segmentFileName(seq));
  const tmp = `${path}.tmp`;
  const file = await fs.openWritable(tmp, "create");
  try {
    await file.append(encodeSegmentHeader(kind, seq));
    // A chunk is taken (and may be encoded) only once the one before it is written.
    for (const chunk of records) if (partsByteLength(chunk) > 0) await file.appendParts(chunk);
    await file.datasync();
  } finally {
    await file.close();
  }
  await fs.rename(tmp, path);
  await fs.syncDir(dir);
  return fs.openWritable(path, "existing");
}
