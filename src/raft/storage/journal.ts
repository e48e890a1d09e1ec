/**
 * One durability log shared by many WALs: fsyncs batched across them.
 *
 * A process hosting many Raft groups gives each its own WAL (WalStorage).
 * Without this, every group pays its own fdatasync per write. With it, a
 * WAL attached to the journal writes its records to its segment as usual
 * but does not sync the segment: it hands the same bytes, with where they
 * went (segment seq and offset), to the journal, and the journal makes the
 * bytes of every WAL that wrote meanwhile durable with one write and one
 * fdatasync of its own file (group commit across groups). An append is
 * acknowledged once the journal holds it.
 *
 * After a crash, recover() replays the journal into the segments before any
 * WAL is opened: every journalled range that is not on disk byte for byte
 * is written back (the segment is cut at the first difference and the rest
 * appended), then synced. Segments the journal names but the disk no longer
 * has were superseded by a base rewrite (which is synced by itself) and are
 * skipped, as are streams whose owner says they are gone.
 *
 * The journal is bounded: once its file passes `maxBytes` it starts a new
 * one, asks every attached WAL to fdatasync its segment (a queued operation,
 * so it covers every write journalled before), and deletes the old file.
 * Segment rotation, base rewrites and snapshots keep their own fsyncs.
 *
 * Record payload (framed as a WAL record, see record.ts):
 *   u32 streamLength, stream (utf8), u64 seq, u64 offset, bytes
 */

import { join } from "node:path";
import { partsByteLength } from "../../byte-parts.js";
import { ByteReader, ByteWriter, DecodeError } from "./codec.js";
import { StorageCorruptionError, StorageFailedError } from "./errors.js";
import { isNotFound, type StorageFs, type WritableFile } from "./fs.js";
import { parseRecordAt, writeRecord } from "./record.js";
import { segmentFileName } from "./segment.js";

/** The record type of a journal entry (distinct from every WAL record type). */
const JOURNAL_RECORD = 0x4a;
const FILE_PREFIX = "journal-";
const FILE_SUFFIX = ".log";
export const DEFAULT_JOURNAL_MAX_BYTES = 64 * 1024 * 1024;

/** What a WAL writer uses: journal bytes it just wrote to a segment. */
export interface JournalPort {
  /** Resolves once `parts` (back to back), written at `offset` of segment `seq`, are durable in the journal. */
  append(seq: number, offset: number, parts: readonly Uint8Array[]): Promise<void>;
  /** The WAL closed (having synced its segment): the journal no longer asks it to sync. */
  detach(): void;
}

/** What the journal asks of an attached WAL when it drops an old file. */
export interface JournalMember {
  /** fdatasync of the WAL's current segment, after everything it has queued. */
  syncSegment(): Promise<void>;
}

export interface JournalRecovery {
  /** Journal files read. */
  readonly files: number;
  readonly records: number;
  /** Segments whose tail was written back from the journal. */
  readonly segmentsRepaired: number;
  readonly bytesRepaired: number;
  /** Records skipped: their stream is gone or their segment superseded. */
  readonly recordsSkipped: number;
  /** A torn last record, cut (what a crash mid-write leaves). */
  readonly tornTail?: string;
}

interface Pending {
  readonly frame: Uint8Array;
  resolve(): void;
  reject(err: unknown): void;
}

function fileName(seq: number): string {
  return `${FILE_PREFIX}${seq.toString().padStart(16, "0")}${FILE_SUFFIX}`;
}

function fileSeq(name: string): number | undefined {
  if (!name.startsWith(FILE_PREFIX) || !name.endsWith(FILE_SUFFIX)) return undefined;
  const digits = name.slice(FILE_PREFIX.length, -FILE_SUFFIX.length);
  return /^[0-9]{16}$/.test(digits) ? Number(digits) : undefined;
}

async function journalFiles(fs: StorageFs, dir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
  return names
    .map(fileSeq)
    .filter((s): s is number => s !== undefined)
    .sort((a, b) => a - b);
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

export function encodeJournalRecord(
  stream: string,
  seq: number,
  offset: number,
  parts: readonly Uint8Array[],
): Uint8Array {
  const name = utf8.encode(stream);
  // The journal batches frames and writes them together: the segment's bytes are copied in.
  const w = new ByteWriter(partsByteLength(parts) + name.length + 48);
  writeRecord(w, JOURNAL_RECORD, (p) => {
    p.u32(name.length);
    p.bytes(name);
    p.u64(seq);
    p.u64(offset);
    for (const part of parts) p.bytes(part);
  });
  return w.finish();
}

interface JournalRecord {
  readonly stream: string;
  readonly seq: number;
  readonly offset: number;
  readonly bytes: Uint8Array;
}

function decodePayload(buf: Uint8Array, start: number, end: number): JournalRecord {
  const r = new ByteReader(buf.subarray(start, end));
  const nameLength = r.u32("stream length");
  const stream = fromUtf8.decode(r.bytesView(nameLength, "stream"));
  const seq = r.u64("segment seq");
  const offset = r.u64("offset");
  const bytes = r.bytesView(r.remaining, "bytes");
  return { stream, seq, offset, bytes };
}

export class SharedJournal {
  private readonly members = new Set<JournalMember>();
  private pending: Pending[] = [];
  /** The flush loop is running (set and cleared synchronously with its last check). */
  private looping = false;
  /** The flush loop's latest run, for close(). */
  private flushing: Promise<void> = Promise.resolve();
  private failure: StorageFailedError | undefined;
  private checkpointing: Promise<void> | undefined;
  private closed = false;
  private stats_ = { flushes: 0, records: 0, bytes: 0, checkpoints: 0 };

  private constructor(
    private readonly fs: StorageFs,
    private readonly dir: string,
    private file: WritableFile,
    private fileSeqNow: number,
    private readonly maxBytes: number,
  ) {}

  /**
   * Writes back into the segments what the journal in `dir` holds and they
   * lost, then deletes the journal's files. `locate(stream)` names the WAL
   * directory of a stream, or undefined when the stream is gone (its
   * records are skipped). Run it before opening any WAL of the journal.
   */
  static async recover(
    fs: StorageFs,
    dir: string,
    locate: (stream: string) => Promise<string | undefined>,
  ): Promise<JournalRecovery> {
    const seqs = await journalFiles(fs, dir);
    const bySegment = new Map<string, { walDir: string; seq: number; records: JournalRecord[] }>();
    const located = new Map<string, string | undefined>();
    let records = 0;
    let skipped = 0;
    let tornTail: string | undefined;
    for (const [i, seq] of seqs.entries()) {
      const path = join(dir, fileName(seq));
      const buf = await fs.readFile(path);
      let at = 0;
      while (at < buf.length) {
        const parsed = parseRecordAt(buf, at, buf.length);
        if (!parsed.ok || parsed.type !== JOURNAL_RECORD) {
          const reason = parsed.ok ? `unexpected record type ${parsed.type}` : parsed.reason;
          // Only the newest file can end in a torn write; the rest were complete when replaced.
          if (i < seqs.length - 1) throw new StorageCorruptionError(path, at, reason);
          tornTail = `${path} at ${at}: ${reason}`;
          break;
        }
        let record: JournalRecord;
        try {
          record = decodePayload(buf, parsed.payloadStart, parsed.payloadEnd);
        } catch (err) {
          if (err instanceof DecodeError || err instanceof TypeError) {
            throw new StorageCorruptionError(path, at, `bad journal record: ${err.message}`);
          }
          throw err;
        }
        at = parsed.next;
        records++;
        if (!located.has(record.stream)) located.set(record.stream, await locate(record.stream));
        const walDir = located.get(record.stream);
        if (walDir === undefined) {
          skipped++;
          continue;
        }
        const key = `${record.stream}\u0000${record.seq}`;
        let segment = bySegment.get(key);
        if (segment === undefined) {
          segment = { walDir, seq: record.seq, records: [] };
          bySegment.set(key, segment);
        }
        segment.records.push(record);
      }
    }
    let segmentsRepaired = 0;
    let bytesRepaired = 0;
    for (const segment of bySegment.values()) {
      const repaired = await repairSegment(fs, segment.walDir, segment.seq, segment.records);
      if (repaired === undefined) skipped += segment.records.length;
      else if (repaired > 0) {
        segmentsRepaired++;
        bytesRepaired += repaired;
      }
    }
    // Everything it held is in the segments now: the journal starts empty.
    for (const seq of seqs) await fs.unlink(join(dir, fileName(seq)));
    if (seqs.length > 0) await fs.syncDir(dir);
    return {
      files: seqs.length,
      records,
      segmentsRepaired,
      bytesRepaired,
      recordsSkipped: skipped,
      ...(tornTail !== undefined && { tornTail }),
    };
  }

  /** Opens a new, empty journal in `dir` (after recover() emptied it). */
  static async open(
    fs: StorageFs,
    dir: string,
    options: { maxBytes?: number } = {},
  ): Promise<SharedJournal> {
    await fs.mkdirp(dir);
    const existing = await journalFiles(fs, dir);
    if (existing.length > 0) {
      throw new StorageFailedError(
        `the journal in ${dir} still holds ${existing.length} file(s): recover() it first`,
      );
    }
    const seq = 1;
    const file = await fs.openWritable(join(dir, fileName(seq)), "create");
    await fs.syncDir(dir);
    return new SharedJournal(fs, dir, file, seq, options.maxBytes ?? DEFAULT_JOURNAL_MAX_BYTES);
  }

  get stats(): { flushes: number; records: number; bytes: number; checkpoints: number } {
    return { ...this.stats_ };
  }

  /** A WAL's handle on the journal; `stream` names it in recover()'s `locate`. */
  attach(stream: string, member: JournalMember): JournalPort {
    this.members.add(member);
    return {
      append: (seq, offset, parts) => this.append(encodeJournalRecord(stream, seq, offset, parts)),
      detach: () => {
        this.members.delete(member);
      },
    };
  }

  private append(frame: Uint8Array): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new StorageFailedError("the journal is closed"));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ frame, resolve, reject });
      if (!this.looping) {
        this.looping = true;
        // Appends made in the same turn share the write.
        this.flushing = Promise.resolve().then(() => this.flushLoop());
      }
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0 && this.failure === undefined) {
      const batch = this.pending;
      this.pending = [];
      let total = 0;
      for (const p of batch) total += p.frame.length;
      // One frame (a lone writer) goes as it is; several are joined for one write.
      let bytes = batch[0]!.frame;
      if (batch.length > 1) {
        bytes = new Uint8Array(total);
        let at = 0;
        for (const p of batch) {
          bytes.set(p.frame, at);
          at += p.frame.length;
        }
      }
      try {
        await this.file.append(bytes);
        await this.file.datasync();
      } catch (err) {
        this.failure = new StorageFailedError(`a journal write or sync failed: ${String(err)}`, {
          cause: err,
        });
        for (const p of [...batch, ...this.pending.splice(0)]) p.reject(this.failure);
        break;
      }
      this.stats_.flushes++;
      this.stats_.records += batch.length;
      this.stats_.bytes += total;
      for (const p of batch) p.resolve();
      if (this.file.sizeBytes >= this.maxBytes && this.checkpointing === undefined) {
        try {
          await this.startNewFile();
        } catch (err) {
          this.failure = new StorageFailedError(`starting a journal file failed: ${String(err)}`, {
            cause: err,
          });
          for (const p of this.pending.splice(0)) p.reject(this.failure);
          break;
        }
      }
    }
    this.looping = false;
  }

  /** Switches to a new file, then (in the background) drops the old one once every WAL synced. */
  private async startNewFile(): Promise<void> {
    const old = this.fileSeqNow;
    const next = old + 1;
    const file = await this.fs.openWritable(join(this.dir, fileName(next)), "create");
    await this.fs.syncDir(this.dir);
    const previous = this.file;
    this.file = file;
    this.fileSeqNow = next;
    await previous.close();
    const members = [...this.members];
    this.checkpointing = (async () => {
      // Each sync is queued behind whatever that WAL journalled into the old file.
      await Promise.all(members.map((m) => m.syncSegment()));
      for (let s = old; s >= 1; s--) {
        try {
          await this.fs.unlink(join(this.dir, fileName(s)));
        } catch (err) {
          if (isNotFound(err)) break;
          throw err;
        }
      }
      await this.fs.syncDir(this.dir);
      this.stats_.checkpoints++;
    })()
      // A WAL that failed to sync fails itself; the old file stays for recover().
      .catch(() => {})
      .finally(() => {
        this.checkpointing = undefined;
      });
  }

  /**
   * Waits for pending appends and a checkpoint in progress and closes the
   * file. When every WAL has detached (each synced its segment as it
   * closed), the journal holds nothing needed and its files are deleted: a
   * journal found at the next start means this process did not stop cleanly.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.flushing;
    await this.checkpointing;
    await this.file.close();
    if (this.members.size > 0 || this.failure !== undefined) return;
    for (const seq of await journalFiles(this.fs, this.dir)) {
      await this.fs.unlink(join(this.dir, fileName(seq)));
    }
    await this.fs.syncDir(this.dir);
  }
}

/**
 * Writes back the journalled ranges of one segment that the disk lost:
 * returns the bytes written (0 when all were there), or undefined when the
 * segment no longer exists (superseded).
 */
async function repairSegment(
  fs: StorageFs,
  walDir: string,
  seq: number,
  records: readonly JournalRecord[],
): Promise<number | undefined> {
  const path = join(walDir, segmentFileName(seq));
  let disk: Uint8Array;
  try {
    disk = await fs.readFile(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  let expected = records[0]!.offset;
  let cut: number | undefined;
  for (const [i, r] of records.entries()) {
    if (r.offset < expected) {
      throw new StorageCorruptionError(path, r.offset, "journal ranges overlap");
    }
    if (r.offset > expected && i > 0) {
      throw new StorageCorruptionError(path, expected, "journal ranges leave a gap");
    }
    expected = r.offset + r.bytes.length;
    if (cut !== undefined) continue;
    if (r.offset > disk.length) {
      throw new StorageCorruptionError(
        path,
        disk.length,
        `the segment ends at ${disk.length} but the journal continues it at ${r.offset}`,
      );
    }
    const have = disk.subarray(r.offset, r.offset + r.bytes.length);
    if (have.length !== r.bytes.length || !have.every((b, j) => b === r.bytes[j])) cut = i;
  }
  if (cut === undefined) return 0;
  const file = await fs.openWritable(path, "existing");
  let written = 0;
  try {
    await file.truncate(records[cut]!.offset);
    for (const r of records.slice(cut)) {
      await file.append(r.bytes);
      written += r.bytes.length;
    }
    await file.datasync();
  } finally {
    await file.close();
  }
  return written;
}
