import { crc32cUpdate } from "../raft/storage/crc32c.js";
import { CompactedError, FutureRevisionError, InvalidKvCommandError } from "./errors.js";
import { isTombstone, type KeyRecord } from "./mvcc.js";
import type { HistoryView } from "./store.js";

/** What etcd's HashKV answers: a checksum of the key space's history up to a revision. */
export interface HistoryHash {
  /** CRC-32C (unsigned) over every record the history holds at `hashRevision`. */
  readonly hash: number;
  /** The compaction point the hash starts after. */
  readonly compactRevision: number;
  /** The revision hashed (the store's revision when 0 was asked for). */
  readonly hashRevision: number;
}

export interface HistoryHashOptions {
  /** Records hashed between two turns of the event loop. */
  readonly recordsPerSlice?: number;
}

const DEFAULT_RECORDS_PER_SLICE = 2048;

/** Fixed-size part of one record's encoding: key and value lengths, then five integers. */
const RECORD_FIELDS_BYTES = 4 + 4 + 5 * 8;

/**
 * The history a compacted store keeps at or below its compaction point: for
 * each key, the last record written at or before it, unless that record is a
 * deletion. Computed here rather than read from what the store dropped, so a
 * member whose compaction is still deferred (a snapshot being read) hashes
 * the same records as one that already dropped them.
 */
function retainedFrom(history: readonly KeyRecord[], compactRevision: number): number {
  let first = 0;
  while (first < history.length && history[first]!.modRevision <= compactRevision) first++;
  if (first > 0 && !isTombstone(history[first - 1]!)) first--;
  return first;
}

/**
 * A checksum of every key's history at `revision` (0: the current one): the
 * records a compacted store keeps, written at or before it, in key order.
 * It depends only on replicated state, so every member that applied the same
 * log answers the same hash for the same revision and compaction point, which
 * is what etcd's corruption check compares. The work is cut into slices with
 * a turn of the event loop between them, so a big store does not stall
 * everything else the member serves.
 */
export async function hashHistory(
  view: HistoryView,
  revision: number,
  options: HistoryHashOptions = {},
): Promise<HistoryHash> {
  try {
    if (!Number.isSafeInteger(revision) || revision < 0) {
      throw new InvalidKvCommandError(`revision must be a non-negative integer, got ${revision}`);
    }
    if (revision > view.revision) throw new FutureRevisionError(revision, view.revision);
    if (revision > 0 && revision <= view.compactRevision) {
      throw new CompactedError(revision, view.compactRevision);
    }
    const hashRevision = revision === 0 ? view.revision : revision;
    const perSlice = options.recordsPerSlice ?? DEFAULT_RECORDS_PER_SLICE;
    const fields = new DataView(new ArrayBuffer(RECORD_FIELDS_BYTES));
    const fieldBytes = new Uint8Array(fields.buffer);
    let crc = 0;
    let inSlice = 0;
    for (const [key, history] of view.entries()) {
      const keyBytes = Buffer.from(key, "latin1");
      for (let i = retainedFrom(history, view.compactRevision); i < history.length; i++) {
        const r = history[i]!;
        if (r.modRevision > hashRevision) break;
        fields.setUint32(0, keyBytes.length);
        fields.setUint32(4, r.value.byteLength);
        fields.setBigUint64(8, BigInt(r.modRevision));
        fields.setBigUint64(16, BigInt(r.subRevision));
        fields.setBigUint64(24, BigInt(r.createRevision));
        fields.setBigUint64(32, BigInt(r.version));
        fields.setBigUint64(40, BigInt(r.lease));
        crc = crc32cUpdate(crc, fieldBytes);
        crc = crc32cUpdate(crc, keyBytes);
        crc = crc32cUpdate(crc, r.value);
        if (++inSlice >= perSlice) {
          inSlice = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    }
    return { hash: crc, compactRevision: view.compactRevision, hashRevision };
  } finally {
    view.close();
  }
}

/**
 * CRC-32C of a byte stream (etcd's Hash: a checksum of the whole backend, as
 * this member holds it), with a turn of the event loop between chunks.
 */
export async function hashStream(stream: AsyncIterable<Uint8Array>): Promise<number> {
  let crc = 0;
  for await (const chunk of stream) {
    crc = crc32cUpdate(crc, chunk);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return crc;
}
