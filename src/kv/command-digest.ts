import crypto from "node:crypto";
import { Packr } from "msgpackr";
import { arrayHeader, bigBinaryHeader } from "../msgpack-headers.js";
import { codeUnitOrder, sortSmall } from "../small-sort.js";
import type { WriteCommand } from "./types.js";

/** Bytes of a command digest (SHA-256). */
export const COMMAND_DIGEST_BYTES = 32;

const packr = new Packr({ useRecords: false, moreTypes: false });

/**
 * Binaries at least this big are hashed where they lie, behind the header
 * MessagePack gives them, rather than copied into a packed buffer first: a
 * 1 MiB value costs one pass of the hash instead of a fresh megabyte and a
 * copy on every replica.
 */
export const HASH_IN_PLACE_BYTES = 16 * 1024;

/**
 * A digest of a write command, remembered with its request id so a reuse of
 * the id with another command is told apart from a retry. It hashes a
 * canonical form (object fields sorted by name, absent fields left out), so
 * two replicas, or two versions of this code that build the same command with
 * fields in another order, agree on it. Always the SHA-256 of the canonical
 * form's MessagePack encoding, whether that encoding is packed whole or, with
 * big binaries, hashed in parts.
 */
export function commandDigest(command: WriteCommand): Uint8Array {
  const form = canonical(command);
  let hash: Buffer;
  if (holdsBig(form)) {
    const h = crypto.createHash("sha256");
    hashInParts(h, form);
    hash = h.digest();
  } else {
    hash = sha256(packr.pack(form));
  }
  return new Uint8Array(hash.buffer, hash.byteOffset, hash.byteLength);
}

/** One-shot hashing where Node has it (20.12 and later): no Hash object per digest. */
const sha256: (data: Uint8Array) => Buffer =
  typeof crypto.hash === "function"
    ? (data) => crypto.hash("sha256", data, "buffer")
    : (data) => crypto.createHash("sha256").update(data).digest();

/** Commands are validated before they get here, so their nesting is bounded (MAX_TXN_DEPTH). */
function canonical(value: unknown): unknown {
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === "object" && value !== null) {
    const fields: [string, unknown][] = [];
    // The default sort orders by UTF-16 code units, as `<` does.
    for (const k of sortSmall(Object.keys(value), codeUnitOrder)) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) fields.push([k, canonical(v)]);
    }
    return fields;
  }
  return value;
}

const isBig = (value: unknown): value is Uint8Array =>
  value instanceof Uint8Array && value.byteLength >= HASH_IN_PLACE_BYTES;

/** Whether a canonical form is, or holds at any depth, a binary hashed in place. */
const holdsBig = (value: unknown): boolean =>
  isBig(value) || (Array.isArray(value) && value.some(holdsBig));

/**
 * Feeds `hash` the bytes `packr.pack(value)` would make: an array holding a
 * big binary as its header and then each element, a big binary as its header
 * and then its own bytes, anything else packed. MessagePack's encoding of a
 * value does not depend on where it sits, so the parts concatenate to the
 * whole.
 */
function hashInParts(hash: crypto.Hash, value: unknown): void {
  if (isBig(value)) {
    hash.update(bigBinaryHeader(value.byteLength));
    hash.update(value);
  } else if (Array.isArray(value) && value.some(holdsBig)) {
    hash.update(arrayHeader(value.length));
    for (const v of value) hashInParts(hash, v);
  } else {
    hash.update(packr.pack(value));
  }
}

export function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
