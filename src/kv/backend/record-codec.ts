import { invariant } from "../../raft/core/errors.js";
import type { KeyString } from "../bytes.js";
import { InvalidKvCommandError } from "../errors.js";

/**
 * A record in the LMDB backend. Key: the revision as 12 big-endian bytes
 * (revision, then the place inside it), so LMDB's byte order is revision
 * order. Value: createRevision, version and lease as float64 (exact for every
 * safe integer), the key's length and bytes, then the value's bytes.
 */
const HEADER_BYTES = 28;

/** A record's place in the backend: its revision, then its place inside it. */
export type RevisionKey = [modRevision: number, subRevision: number];

/**
 * lmdb-js's key encoding for records (a `keyEncoder`): a RevisionKey as 12
 * big-endian bytes. A scan hands back small arrays rather than a Buffer per key.
 */
export const revisionKeyEncoder = {
  writeKey([modRevision, subRevision]: RevisionKey, target: Uint8Array, start: number): number {
    const b = asBuffer(target);
    b.writeUInt32BE(Math.floor(modRevision / 2 ** 32), start);
    b.writeUInt32BE(modRevision >>> 0, start + 4);
    b.writeUInt32BE(subRevision, start + 8);
    return start + 12;
  },
  readKey(bytes: Uint8Array, start: number, end: number): RevisionKey {
    if (end - start !== 12) corrupt("a record key is not 12 bytes");
    const b = asBuffer(bytes);
    return [b.readUInt32BE(start) * 2 ** 32 + b.readUInt32BE(start + 4), b.readUInt32BE(start + 8)];
  },
};

/**
 * lmdb-js's value encoding for records (an `encoder`): written as
 * `encodeRecord` made them; read as their head only, so a scan of every
 * record decodes from lmdb-js's reused buffer and copies no value. The
 * buffer's `length` is the record's size (its byteLength is the buffer's).
 * Values are read with `getBinaryFast` and `decodeRecordValue`.
 */
export const recordHeadEncoder = {
  encode: (record: Uint8Array): Uint8Array => record,
  decode: (bytes: Uint8Array): RecordHead => decodeRecordHead(bytes, bytes.length),
};

export interface RecordFields {
  readonly createRevision: number;
  readonly version: number;
  readonly lease: number;
}

/** Bytes of a record's encoding. */
export function recordBytes(key: KeyString, value: Uint8Array): number {
  return HEADER_BYTES + key.length + value.byteLength;
}

/** Encodes a record into `out` (exactly recordBytes long) or, without it, a new buffer. */
export function encodeRecord(
  key: KeyString,
  fields: RecordFields,
  value: Uint8Array,
  out: Buffer = Buffer.allocUnsafe(recordBytes(key, value)),
): Buffer {
  invariant(out.byteLength === recordBytes(key, value), "record buffer of the wrong size");
  out.writeDoubleBE(fields.createRevision, 0);
  out.writeDoubleBE(fields.version, 8);
  out.writeDoubleBE(fields.lease, 16);
  out.writeUInt32BE(key.length, 24);
  out.write(key, HEADER_BYTES, "latin1");
  out.set(value, HEADER_BYTES + key.length);
  return out;
}

export type RecordHead = RecordFields & { readonly key: KeyString };

/** The key and the fields of the record in the first `size` bytes, without copying the value. */
export function decodeRecordHead(bytes: Uint8Array, size: number): RecordHead {
  const b = asBuffer(bytes);
  if (size < HEADER_BYTES) corrupt("a record is shorter than its header");
  const keyLength = b.readUInt32BE(24);
  if (size < HEADER_BYTES + keyLength) corrupt("a record is shorter than its key");
  const createRevision = b.readDoubleBE(0);
  const version = b.readDoubleBE(8);
  const lease = b.readDoubleBE(16);
  // One check for all three: every field is a non-negative safe integer.
  if (!(isCount(createRevision) && isCount(version) && isCount(lease))) {
    corrupt(`a record's fields are ${createRevision}, ${version}, ${lease}`);
  }
  return {
    createRevision,
    version,
    lease,
    key: b.toString("latin1", HEADER_BYTES, HEADER_BYTES + keyLength),
  };
}

function isCount(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

/** The value of the record in the first `size` bytes, copied out (the buffer may be reused). */
export function decodeRecordValue(bytes: Uint8Array, size: number): Uint8Array {
  const start = HEADER_BYTES + asBuffer(bytes).readUInt32BE(24);
  if (size < start) corrupt("a record is shorter than its key");
  // A plain Uint8Array, as the store's values are.
  return new Uint8Array(bytes.buffer, bytes.byteOffset + start, size - start).slice();
}

/** LMDB hands back Buffers already; wrapping costs an allocation per record on a full scan. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function corrupt(what: string): never {
  throw new InvalidKvCommandError(`kv backend is corrupt: ${what}`);
}
