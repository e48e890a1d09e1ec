import crypto from "node:crypto";
import { Packr } from "msgpackr";
import type { WriteCommand } from "./types.js";

/** Bytes of a command digest (SHA-256). */
export const COMMAND_DIGEST_BYTES = 32;

const packr = new Packr({ useRecords: false, moreTypes: false });

/**
 * A digest of a write command, remembered with its request id so a reuse of
 * the id with another command is told apart from a retry. It hashes a
 * canonical form (object fields sorted by name, absent fields left out), so
 * two replicas, or two versions of this code that build the same command with
 * fields in another order, agree on it.
 */
export function commandDigest(command: WriteCommand): Uint8Array {
  const hash = sha256(packr.pack(canonical(command)));
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
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) fields.push([k, canonical(v)]);
    }
    return fields;
  }
  return value;
}

export function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
