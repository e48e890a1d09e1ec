import { join } from "node:path";
import type { HardState, SnapshotMetadata } from "../core/types.js";
import { EMPTY_HARD_STATE } from "../core/types.js";
import { DecodeError } from "./codec.js";
import { StorageCorruptionError } from "./errors.js";
import type { StorageFs } from "./fs.js";
import { LogWindow } from "./log-window.js";
import { findValidRecordAfter, parseRecordAt } from "./record.js";
import { decodeRecord, RecordType, type WalRecord } from "./records.js";
import {
  decodeSegmentHeader,
  SEGMENT_HEADER_BYTES,
  SegmentKind,
  segmentFileName,
} from "./segment.js";
import { readExpectedSnapshotLayout, snapshotFileName } from "./snapshot-file.js";

/** What open() found and repaired. */
export interface RecoveryReport {
  /** Segment files replayed, oldest first. */
  readonly segmentsReplayed: readonly string[];
  readonly entriesRecovered: number;
  /**
   * A partial record at the end of the newest segment (a write cut short by
   * a crash before its fsync, so never acknowledged), now truncated away.
   */
  readonly tornTail?: {
    readonly file: string;
    readonly offset: number;
    readonly droppedBytes: number;
    readonly reason: string;
  };
  /** Leftovers removed: temporary files, segments and snapshots superseded by a newer base. */
  readonly removedFiles: readonly string[];
}

export interface RecoveredWal {
  readonly window: LogWindow;
  readonly hardState: HardState;
  readonly snapshot: SnapshotMetadata;
  readonly baseSeq: number;
  readonly lastSeq: number;
  /** The newest segment already ends with a SegmentEnd record: appends go to a new one. */
  readonly lastSegmentClosed: boolean;
  readonly tornTail: RecoveryReport["tornTail"];
  readonly segmentsReplayed: string[];
}

/** Replays records into the in-memory state, checking each one makes sense where it stands. */
class Replayer {
  window: LogWindow | undefined;
  hardState: HardState = EMPTY_HARD_STATE;
  snapshot: SnapshotMetadata | undefined;
  /** While set, the base block is incomplete: entries up to this index, then its hard state. */
  baseBlockUntil: number | undefined;

  apply(rec: WalRecord, atSegmentStart: boolean, isBaseSegment: boolean): string | undefined {
    if (rec.type === RecordType.Snapshot) {
      if (!(atSegmentStart && isBaseSegment))
        return "snapshot record outside the start of a base segment";
      const { snapshot, logBase, retainedLastIndex } = rec;
      if (logBase.index > snapshot.index || retainedLastIndex < snapshot.index) {
        return `snapshot record at ${snapshot.index} has log base ${logBase.index} and retained last index ${retainedLastIndex}`;
      }
      if (logBase.index === snapshot.index && logBase.term !== snapshot.term) {
        return `log base term ${logBase.term} differs from snapshot term ${snapshot.term}`;
      }
      this.snapshot = snapshot;
      this.window = new LogWindow(logBase);
      this.baseBlockUntil = retainedLastIndex;
      return undefined;
    }
    const w = this.window;
    if (w === undefined) return "base segment does not start with a snapshot record";
    switch (rec.type) {
      case RecordType.Entries: {
        const first = rec.entries[0]!;
        if (first.index !== w.lastIndex() + 1) {
          return `entries start at ${first.index} but the log ends at ${w.lastIndex()}`;
        }
        let prevTerm = w.term(w.lastIndex());
        for (const e of rec.entries) {
          if (e.term < prevTerm || e.term < 1)
            return `entry ${e.index} has term ${e.term} after term ${prevTerm}`;
          prevTerm = e.term;
        }
        const last = rec.entries[rec.entries.length - 1]!.index;
        if (this.baseBlockUntil !== undefined && last > this.baseBlockUntil) {
          return `base block entries run to ${last}, past its declared end ${this.baseBlockUntil}`;
        }
        w.append(rec.entries);
        return undefined;
      }
      case RecordType.HardState: {
        const hs = rec.hardState;
        if (this.baseBlockUntil !== undefined) {
          if (w.lastIndex() !== this.baseBlockUntil) {
            return `base block ends at ${w.lastIndex()}, expected ${this.baseBlockUntil}`;
          }
          this.baseBlockUntil = undefined;
        } else if (hs.term < this.hardState.term || hs.commit < this.hardState.commit) {
          return `hard state (term ${hs.term}, commit ${hs.commit}) goes back from (term ${this.hardState.term}, commit ${this.hardState.commit})`;
        }
        this.hardState = hs;
        return undefined;
      }
      case RecordType.Truncate: {
        if (this.baseBlockUntil !== undefined) return "truncate record inside a base block";
        const at = rec.afterIndex;
        if (at < w.base.index || at > w.lastIndex() || at < this.hardState.commit) {
          return `truncate after ${at} outside [max(base ${w.base.index}, commit ${this.hardState.commit}), last ${w.lastIndex()}]`;
        }
        w.truncateAfter(at);
        return undefined;
      }
      case RecordType.SegmentEnd:
        if (this.baseBlockUntil !== undefined) return "segment ends inside a base block";
        return undefined;
    }
  }
}

interface SegmentScan {
  closed: boolean;
  torn?: { offset: number; reason: string; droppedBytes: number };
}

async function replaySegment(
  fs: StorageFs,
  path: string,
  seq: number,
  isLast: boolean,
  replayer: Replayer,
): Promise<SegmentScan> {
  const buf = await fs.readFile(path);
  let header: { kind: SegmentKind; seq: number };
  try {
    header = decodeSegmentHeader(buf);
  } catch (err) {
    if (err instanceof DecodeError) throw new StorageCorruptionError(path, 0, err.message);
    throw err;
  }
  if (header.seq !== seq) {
    throw new StorageCorruptionError(
      path,
      0,
      `header names segment ${header.seq}, file name ${seq}`,
    );
  }
  const isBase = header.kind === SegmentKind.Base;
  if (isBase !== (replayer.window === undefined)) {
    throw new StorageCorruptionError(
      path,
      0,
      isBase ? "unexpected base segment" : "continuation segment without a base",
    );
  }
  let offset = SEGMENT_HEADER_BYTES;
  let closed = false;
  while (offset < buf.length) {
    const parsed = parseRecordAt(buf, offset, buf.length);
    if (!parsed.ok) {
      // A torn tail is the end of the newest segment with nothing valid after
      // it; anything else means acknowledged data was damaged.
      if (isLast && !closed && findValidRecordAfter(buf, offset, buf.length) === undefined) {
        return {
          closed,
          torn: { offset, reason: parsed.reason, droppedBytes: buf.length - offset },
        };
      }
      throw new StorageCorruptionError(path, offset, parsed.reason);
    }
    if (closed)
      throw new StorageCorruptionError(path, offset, "record after the segment's closing record");
    let rec: WalRecord;
    try {
      rec = decodeRecord(parsed.type, buf, parsed.payloadStart, parsed.payloadEnd);
    } catch (err) {
      if (err instanceof DecodeError) throw new StorageCorruptionError(path, offset, err.message);
      throw err;
    }
    if (rec.type === RecordType.SegmentEnd) {
      if (rec.nextSeq !== seq + 1) {
        throw new StorageCorruptionError(
          path,
          offset,
          `closing record names next segment ${rec.nextSeq}`,
        );
      }
      closed = true;
    }
    const problem = replayer.apply(rec, offset === SEGMENT_HEADER_BYTES, isBase);
    if (problem !== undefined) throw new StorageCorruptionError(path, offset, problem);
    offset = parsed.next;
  }
  return { closed };
}

/**
 * Rebuilds the storage state from the segments `seqs` (ascending, at least
 * one) of `dir`: finds the newest base segment, replays it and every later
 * segment, truncates a torn tail, checks the snapshot file the WAL refers to.
 * Throws StorageCorruptionError naming file and offset for any damage that
 * is not a torn tail.
 */
export async function recoverWal(
  fs: StorageFs,
  dir: string,
  seqs: readonly number[],
): Promise<RecoveredWal> {
  let baseSeq: number | undefined;
  for (let i = seqs.length - 1; i >= 0 && baseSeq === undefined; i--) {
    const seq = seqs[i]!;
    const path = join(dir, segmentFileName(seq));
    const file = await fs.openReadable(path);
    try {
      const head = new Uint8Array(SEGMENT_HEADER_BYTES);
      const n = await file.read(head, 0);
      const { kind } = decodeSegmentHeader(head.subarray(0, n));
      if (kind === SegmentKind.Base) baseSeq = seq;
    } catch (err) {
      if (err instanceof DecodeError) throw new StorageCorruptionError(path, 0, err.message);
      throw err;
    } finally {
      await file.close();
    }
  }
  if (baseSeq === undefined) {
    throw new StorageCorruptionError(
      join(dir, segmentFileName(seqs[0]!)),
      0,
      "no base segment in the WAL",
    );
  }
  const live = seqs.filter((s) => s >= baseSeq);
  const lastSeq = live[live.length - 1]!;
  for (let i = 0; i < live.length; i++) {
    if (live[i] !== baseSeq + i) {
      throw new StorageCorruptionError(
        join(dir, segmentFileName(baseSeq + i)),
        undefined,
        "segment missing from the WAL",
      );
    }
  }
  const replayer = new Replayer();
  const replayed: string[] = [];
  let scan: SegmentScan = { closed: false };
  for (const seq of live) {
    const path = join(dir, segmentFileName(seq));
    const isLast = seq === lastSeq;
    scan = await replaySegment(fs, path, seq, isLast, replayer);
    replayed.push(segmentFileName(seq));
    if (!isLast && !scan.closed) {
      throw new StorageCorruptionError(
        path,
        undefined,
        "segment ends without its closing record (truncated?)",
      );
    }
  }
  const lastPath = join(dir, segmentFileName(lastSeq));
  const window = replayer.window!;
  const snapshot = replayer.snapshot!;
  const hardState = replayer.hardState;
  if (replayer.baseBlockUntil !== undefined) {
    throw new StorageCorruptionError(lastPath, undefined, "base segment is incomplete");
  }
  if (hardState.commit > window.lastIndex() || hardState.commit < snapshot.index) {
    throw new StorageCorruptionError(
      lastPath,
      undefined,
      `hard state commit ${hardState.commit} outside [snapshot ${snapshot.index}, last index ${window.lastIndex()}]`,
    );
  }
  if (scan.torn !== undefined) {
    const file = await fs.openWritable(lastPath, "existing");
    try {
      await file.truncate(scan.torn.offset);
      await file.datasync();
    } finally {
      await file.close();
    }
  }
  if (snapshot.index > 0) await checkSnapshotFile(fs, dir, snapshot);
  return {
    window,
    hardState,
    snapshot,
    baseSeq,
    lastSeq,
    lastSegmentClosed: scan.closed,
    tornTail: scan.torn && { file: segmentFileName(lastSeq), ...scan.torn },
    segmentsReplayed: replayed,
  };
}

async function checkSnapshotFile(
  fs: StorageFs,
  dir: string,
  meta: SnapshotMetadata,
): Promise<void> {
  const path = join(dir, snapshotFileName(meta));
  let file: Awaited<ReturnType<StorageFs["openReadable"]>>;
  try {
    file = await fs.openReadable(path);
  } catch (err) {
    throw new StorageCorruptionError(
      path,
      undefined,
      "snapshot file referenced by the WAL is missing",
      {
        cause: err,
      },
    );
  }
  try {
    await readExpectedSnapshotLayout(file, path, meta);
  } finally {
    await file.close();
  }
}
