import type { KeyString } from "../bytes.js";
import { InvalidKvCommandError } from "../errors.js";

/**
 * A record in the LMDB backend. Key: the revision as 12 big-endian bytes
 * (revision, then the place inside it), so LMDB's byte order is revision
 * order. Value: createRevision, version and lease as float64 (exact for every
 * safe integer), the key's length and bytes, then the value's bytes.
 */
const HEADER_BYTES = 28;

export function revisionKey(modRevision: number, subRevision: number): Buffer {
  const out = Buffer.allocUnsafe(12);
  out.writeUInt32BE(Math.floor(modRevision / 2 ** 32), 0);
  out.writeUInt32BE(modRevision >>> 0, 4);
  out.writeUInt32BE(subRevision, 8);
  return out;
}

export function parseRevisionKey(key: Uint8Array): [modRevision: number, subRevision: number] {
  if (key.byteLength !== 12) corrupt("a record key is not 12 bytes");
  const b = asBuffer(key);
  return [b.readUInt32BE(0) * 2 ** 32 + b.readUInt32BE(4), b.readUInt32BE(8)];
}

export interface RecordFields {
  readonly createRevision: number;
  readonly version: number;
  readonly lease: number;
}

export function encodeRecord(key: KeyString, fields: RecordFields, value: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + key.length + value.byteLength);
  out.writeDoubleBE(fields.createRevision, 0);
  out.writeDoubleBE(fields.version, 8);
  out.writeDoubleBE(fields.lease, 16);
  out.writeUInt32BE(key.length, 24);
  out.write(key, HEADER_BYTES, "latin1");
  out.set(value, HEADER_BYTES + key.length);
  return out;
}

/** The key and the fields, without copying the value. */
export function decodeRecordHead(bytes: Uint8Array): RecordFields & { key: KeyString } {
  const b = asBuffer(bytes);
  if (b.byteLength < HEADER_BYTES) corrupt("a record is shorter than its header");
  const keyLength = b.readUInt32BE(24);
  if (b.byteLength < HEADER_BYTES + keyLength) corrupt("a record is shorter than its key");
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

/** The value's bytes, copied out of the backend's buffer. */
export function decodeRecordValue(bytes: Uint8Array): Uint8Array {
  const keyLength = asBuffer(bytes).readUInt32BE(24);
  return Uint8Array.prototype.slice.call(bytes, HEADER_BYTES + keyLength);
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
