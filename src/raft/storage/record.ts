import type { ByteWriter } from "./codec.js";
import { crc32c, crc32cUpdate } from "./crc32c.js";

/**
 * Framing of one WAL record (little-endian, every record starts on an
 * 8-byte boundary of its segment):
 *
 *   0  u32  bodyLength   type byte + payload, 1..MAX_RECORD_BODY_BYTES
 *   4  u32  lengthCrc    CRC-32C of bytes 0..4
 *   8  u32  bodyCrc      CRC-32C of the body
 *  12  u8   type
 *  13  ...  payload
 *       zero padding to a multiple of 8 (checked on read)
 *
 * The separate checksum of the length lets recovery tell a damaged length
 * from a damaged body and, after a bad record, scan the rest of the segment
 * cheaply for any valid record: finding one proves the damage is not a torn
 * tail.
 */
export const RECORD_HEADER_BYTES = 12;
export const RECORD_ALIGNMENT = 8;
/** Large enough for the biggest entry the storage accepts plus its framing. */
export const MAX_RECORD_BODY_BYTES = 80 * 1024 * 1024;

const lengthScratch = new Uint8Array(4);
const lengthScratchView = new DataView(lengthScratch.buffer);

function lengthCrc(bodyLength: number): number {
  lengthScratchView.setUint32(0, bodyLength, true);
  return crc32c(lengthScratch);
}

/** Appends a framed record to `w`; `writePayload` writes the payload after the type byte. */
export function writeRecord(
  w: ByteWriter,
  type: number,
  writePayload: (w: ByteWriter) => void,
): void {
  const start = w.length;
  w.u32(0);
  w.u32(0);
  w.u32(0);
  const bodyStart = w.length;
  w.u8(type);
  writePayload(w);
  const bodyLength = w.length - bodyStart;
  if (bodyLength > MAX_RECORD_BODY_BYTES) {
    throw new RangeError(`record body of ${bodyLength} bytes exceeds ${MAX_RECORD_BODY_BYTES}`);
  }
  // The body may hold binaries the writer refers to (ByteWriter.ref): checksummed where they lie.
  let bodyCrc = 0;
  for (const [bytes, from, to] of w.spans(bodyStart, bodyStart + bodyLength)) {
    bodyCrc = crc32cUpdate(bodyCrc, bytes, from, to);
  }
  w.patchU32(start, bodyLength);
  w.patchU32(start + 4, lengthCrc(bodyLength));
  w.patchU32(start + 8, bodyCrc);
  w.padTo(RECORD_ALIGNMENT);
}

export type ParsedRecord =
  | {
      readonly ok: true;
      readonly type: number;
      /** Payload range (after the type byte). */
      readonly payloadStart: number;
      readonly payloadEnd: number;
      /** Offset of the next record. */
      readonly next: number;
    }
  | { readonly ok: false; readonly reason: string };

function padded(n: number): number {
  return Math.ceil(n / RECORD_ALIGNMENT) * RECORD_ALIGNMENT;
}

/** Validates the record at `offset` of `buf[0, end)`. */
export function parseRecordAt(buf: Uint8Array, offset: number, end: number): ParsedRecord {
  if (end - offset < RECORD_HEADER_BYTES + 1) {
    return { ok: false, reason: `incomplete record header (${end - offset} bytes left)` };
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const bodyLength = view.getUint32(offset, true);
  if (view.getUint32(offset + 4, true) !== lengthCrc(bodyLength)) {
    return { ok: false, reason: "record length checksum mismatch" };
  }
  if (bodyLength === 0 || bodyLength > MAX_RECORD_BODY_BYTES) {
    return { ok: false, reason: `record length ${bodyLength} out of range` };
  }
  const bodyStart = offset + RECORD_HEADER_BYTES;
  const bodyEnd = bodyStart + bodyLength;
  const next = offset + padded(RECORD_HEADER_BYTES + bodyLength);
  if (next > end) {
    return { ok: false, reason: `record of ${bodyLength} bytes extends past the end of the file` };
  }
  if (view.getUint32(offset + 8, true) !== crc32c(buf, bodyStart, bodyEnd)) {
    return { ok: false, reason: "record body checksum mismatch" };
  }
  for (let i = bodyEnd; i < next; i++) {
    if (buf[i] !== 0) return { ok: false, reason: "record padding is not zero" };
  }
  return {
    ok: true,
    type: buf[bodyStart]!,
    payloadStart: bodyStart + 1,
    payloadEnd: bodyEnd,
    next,
  };
}

/**
 * The offset of the first valid record strictly after `offset` (on the
 * record alignment), or undefined when the rest of the buffer holds none.
 * Linear: the length checksum rejects almost every wrong position after
 * reading four bytes.
 */
export function findValidRecordAfter(
  buf: Uint8Array,
  offset: number,
  end: number,
): number | undefined {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let at = offset + RECORD_ALIGNMENT; at + RECORD_HEADER_BYTES < end; at += RECORD_ALIGNMENT) {
    if (view.getUint32(at + 4, true) !== lengthCrc(view.getUint32(at, true))) continue;
    if (parseRecordAt(buf, at, end).ok) return at;
  }
  return undefined;
}
