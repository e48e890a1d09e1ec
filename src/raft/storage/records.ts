import type { Entry, HardState, SnapshotMetadata } from "../core/types.js";
import { EntryType } from "../core/types.js";
import {
  ByteReader,
  ByteWriter,
  DecodeError,
  REF_MIN_BYTES,
  readConfState,
  readHardState,
  writeConfState,
  writeHardState,
} from "./codec.js";
import { writeRecord } from "./record.js";

/** Record types; the numbers are part of the on-disk format. */
export enum RecordType {
  /** Consecutive entries; the first must directly follow the log's last index. */
  Entries = 1,
  HardState = 2,
  /** Drops every entry after `afterIndex` (a conflicting suffix being replaced). */
  Truncate = 3,
  /**
   * Opens a base segment: the current snapshot, where the log starts
   * (`logBase`, at or before the snapshot) and the last index of the entries
   * the base segment carries. The base's entries follow, then its hard state.
   */
  Snapshot = 4,
  /** Closes a segment; the next one has sequence number `nextSeq`. */
  SegmentEnd = 5,
}

export interface LogPosition {
  readonly index: number;
  readonly term: number;
}

export interface SnapshotRecord {
  readonly type: RecordType.Snapshot;
  readonly snapshot: SnapshotMetadata;
  readonly logBase: LogPosition;
  readonly retainedLastIndex: number;
}

export type WalRecord =
  | { readonly type: RecordType.Entries; readonly entries: Entry[] }
  | { readonly type: RecordType.HardState; readonly hardState: HardState }
  | { readonly type: RecordType.Truncate; readonly afterIndex: number }
  | SnapshotRecord
  | { readonly type: RecordType.SegmentEnd; readonly nextSeq: number };

/** Entries are split so one record stays near this size (an entry is never split). */
export const ENTRIES_RECORD_TARGET_BYTES = 1024 * 1024;
const ENTRY_HEADER_BYTES = 13;

/** Per entry, a bound on its framing: its header in an Entries record, plus a share of the record's framing and padding. */
const ENTRY_RECORD_OVERHEAD_BYTES = 40;

/**
 * Bytes a ByteWriter needs of its own for `entries[from, to)` as records:
 * big entries are referred to (ByteWriter.ref), not copied. Sizing a writer
 * up front spares growing it by doubling, which copies what it holds each time.
 */
export function entriesOwnBytes(entries: readonly Entry[], from = 0, to = entries.length): number {
  let n = 0;
  for (let k = from; k < to; k++) {
    const length = entries[k]!.data.length;
    n += ENTRY_RECORD_OVERHEAD_BYTES + (length >= REF_MIN_BYTES ? 0 : length);
  }
  return n;
}

/** Writes `entries` (consecutive) as one or more Entries records. */
export function writeEntriesRecords(w: ByteWriter, entries: readonly Entry[]): void {
  for (const [from, to] of entriesRecordSpans(entries)) writeEntriesRecord(w, entries, from, to);
}

/** [from, to) spans of `entries`, each one record of about ENTRIES_RECORD_TARGET_BYTES (at least one entry). */
function* entriesRecordSpans(entries: readonly Entry[]): Generator<[number, number]> {
  let i = 0;
  while (i < entries.length) {
    let j = i;
    let bytes = 0;
    do {
      bytes += ENTRY_HEADER_BYTES + entries[j]!.data.length;
      j++;
    } while (j < entries.length && bytes + entries[j]!.data.length <= ENTRIES_RECORD_TARGET_BYTES);
    yield [i, j];
    i = j;
  }
}

function writeEntriesRecord(w: ByteWriter, entries: readonly Entry[], from: number, to: number) {
  writeRecord(w, RecordType.Entries, (p) => {
    p.u64(entries[from]!.index);
    p.u32(to - from);
    for (let k = from; k < to; k++) {
      const e = entries[k]!;
      p.u64(e.term);
      p.u8(e.type);
      p.u32(e.data.length);
      // A big entry is written from where it lies (the log keeps it unchanged).
      p.ref(e.data);
    }
  });
}

export function writeHardStateRecord(w: ByteWriter, hs: HardState): void {
  writeRecord(w, RecordType.HardState, (p) => writeHardState(p, hs));
}

export function writeTruncateRecord(w: ByteWriter, afterIndex: number): void {
  writeRecord(w, RecordType.Truncate, (p) => p.u64(afterIndex));
}

export function writeSnapshotRecord(w: ByteWriter, rec: Omit<SnapshotRecord, "type">): void {
  writeRecord(w, RecordType.Snapshot, (p) => {
    p.u64(rec.snapshot.index);
    p.u64(rec.snapshot.term);
    writeConfState(p, rec.snapshot.confState);
    p.u64(rec.logBase.index);
    p.u64(rec.logBase.term);
    p.u64(rec.retainedLastIndex);
  });
}

export function writeSegmentEndRecord(w: ByteWriter, nextSeq: number): void {
  writeRecord(w, RecordType.SegmentEnd, (p) => p.u64(nextSeq));
}

function isEntryType(t: number): t is EntryType {
  return t === EntryType.Normal || t === EntryType.ConfChange;
}

/** Decodes a payload whose framing already checked out; throws DecodeError. */
export function decodeRecord(type: number, buf: Uint8Array, start: number, end: number): WalRecord {
  const r = new ByteReader(buf, start, end);
  let rec: WalRecord;
  switch (type) {
    case RecordType.Entries: {
      const first = r.u64("first index");
      const count = r.u32("entry count");
      if (first < 1) throw new DecodeError(`entries start at index ${first}`);
      if (count === 0) throw new DecodeError("entries record holds no entry");
      if (count * ENTRY_HEADER_BYTES > r.remaining) {
        throw new DecodeError(`entry count ${count} exceeds the record`);
      }
      // One copy of the record for all its entries' data: a separate buffer per
      // entry would cost more than a small entry's payload in bookkeeping.
      const owned = buf.slice(start, end);
      const or = new ByteReader(owned, r.pos - start);
      const entries: Entry[] = [];
      for (let k = 0; k < count; k++) {
        const term = or.u64("entry term");
        const t = or.u8("entry type");
        if (!isEntryType(t)) throw new DecodeError(`entry type ${t}`);
        const n = or.u32("entry data length");
        entries.push({ term, index: first + k, type: t, data: or.bytesView(n, "entry data") });
      }
      or.expectEnd("entries record");
      rec = { type, entries };
      return rec;
    }
    case RecordType.HardState:
      rec = { type, hardState: readHardState(r) };
      break;
    case RecordType.Truncate:
      rec = { type, afterIndex: r.u64("truncate index") };
      break;
    case RecordType.Snapshot: {
      const index = r.u64("snapshot index");
      const term = r.u64("snapshot term");
      const confState = readConfState(r);
      const logBase = { index: r.u64("log base index"), term: r.u64("log base term") };
      const retainedLastIndex = r.u64("retained last index");
      rec = { type, snapshot: { index, term, confState }, logBase, retainedLastIndex };
      break;
    }
    case RecordType.SegmentEnd:
      rec = { type, nextSeq: r.u64("next segment") };
      break;
    default:
      throw new DecodeError(`unknown record type ${type}`);
  }
  r.expectEnd(`record type ${type}`);
  return rec;
}

/**
 * The records opening a base segment: snapshot marker, the retained entries,
 * the hard state. Encoded one record at a time as the chunks are taken, so a
 * writer that awaits each chunk's write never blocks the event loop for
 * more than one record, however many entries a snapshot retains.
 */
export function* encodeBaseRecords(
  snapshot: SnapshotMetadata,
  logBase: LogPosition,
  entries: readonly Entry[],
  hardState: HardState,
): Generator<Uint8Array[]> {
  const retainedLastIndex = entries.length > 0 ? entries[entries.length - 1]!.index : logBase.index;
  const head = new ByteWriter(256);
  writeSnapshotRecord(head, { snapshot, logBase, retainedLastIndex });
  yield head.parts();
  for (const [from, to] of entriesRecordSpans(entries)) {
    const w = new ByteWriter(entriesOwnBytes(entries, from, to) + 64);
    writeEntriesRecord(w, entries, from, to);
    yield w.parts();
  }
  const tail = new ByteWriter(256);
  writeHardStateRecord(tail, hardState);
  yield tail.parts();
}
