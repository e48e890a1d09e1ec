import { InvalidKeyError } from "./errors.js";

/**
 * A key is a string or raw bytes. A string is hashed as its UTF-8 encoding
 * (lone surrogates become U+FFFD, exactly as TextEncoder does), so a string
 * and `new TextEncoder().encode(string)` always map to the same node.
 */
export type HashKey = string | Uint8Array;

/**
 * One shared scratch buffer for encoding string keys. Lookups are synchronous
 * and never re-enter, so sharing it is safe and keeps the hot path free of
 * allocation once the buffer has grown to the longest key seen.
 */
let scratch = new Uint8Array(1024);

/**
 * The buffer {@link encodeUtf8} wrote into. Fetch it after encoding: encoding
 * may replace it with a larger one.
 */
export function scratchBuffer(): Uint8Array {
  return scratch;
}

function ensureScratch(bytes: number): void {
  if (scratch.length < bytes) {
    let size = scratch.length;
    while (size < bytes) size *= 2;
    scratch = new Uint8Array(size);
  }
}

/**
 * Writes the UTF-8 encoding of `text` into the scratch buffer and returns its
 * length in bytes. Read the bytes through {@link scratchBuffer}.
 */
export function encodeUtf8(text: string): number {
  const length = text.length;
  // A UTF-16 code unit never needs more than three UTF-8 bytes.
  ensureScratch(length * 3);
  const out = scratch;
  let at = 0;
  for (let i = 0; i < length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) {
      out[at++] = unit;
    } else if (unit < 0x800) {
      out[at++] = 0xc0 | (unit >>> 6);
      out[at++] = 0x80 | (unit & 0x3f);
    } else if (unit >= 0xd800 && unit <= 0xdfff) {
      const next = i + 1 < length ? text.charCodeAt(i + 1) : 0;
      if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const codePoint = 0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00);
        out[at++] = 0xf0 | (codePoint >>> 18);
        out[at++] = 0x80 | ((codePoint >>> 12) & 0x3f);
        out[at++] = 0x80 | ((codePoint >>> 6) & 0x3f);
        out[at++] = 0x80 | (codePoint & 0x3f);
        i++;
      } else {
        // Lone surrogate: U+FFFD, as the WHATWG encoder does.
        out[at++] = 0xef;
        out[at++] = 0xbf;
        out[at++] = 0xbd;
      }
    } else {
      out[at++] = 0xe0 | (unit >>> 12);
      out[at++] = 0x80 | ((unit >>> 6) & 0x3f);
      out[at++] = 0x80 | (unit & 0x3f);
    }
  }
  return at;
}

function describeKey(key: unknown): string {
  if (key === null) return "null";
  if (Array.isArray(key)) return "an array";
  return typeof key;
}

/** The error for a key of the wrong type; kept out of line so hot paths stay small. */
export function invalidKey(key: unknown): InvalidKeyError {
  return new InvalidKeyError(`key must be a string or a Uint8Array, got ${describeKey(key)}`);
}
