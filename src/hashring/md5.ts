/**
 * MD5 (RFC 1321), written for ketama: it reads from a byte buffer and writes
 * the four state words into a caller-owned Uint32Array, so hashing a key costs
 * no allocation. Ketama reads digest bytes 4j..4j+3 as a little-endian word,
 * which is exactly state word j, so callers never need the byte form.
 */
import { encodeUtf8, type HashKey, invalidKey, scratchBuffer } from "./keys.js";

// Per RFC 1321 section 3.4, T[i] = floor(2^32 * |sin(i + 1)|). The test suite
// checks the resulting digests against the RFC vectors and node:crypto.
const T = new Int32Array(64);
for (let i = 0; i < 64; i++) T[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 0x100000000) | 0;

const SHIFT = new Int32Array([7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]);
const block = new Int32Array(16);
const state = new Uint32Array(4);

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

function compress(words: Int32Array, s: Uint32Array): void {
  let a = s[0]! | 0;
  let b = s[1]! | 0;
  let c = s[2]! | 0;
  let d = s[3]! | 0;
  for (let i = 0; i < 16; i++) {
    const f = (b & c) | (~b & d);
    const t = d;
    d = c;
    c = b;
    b = (b + rotl((a + f + T[i]! + words[i]!) | 0, SHIFT[i & 3]!)) | 0;
    a = t;
  }
  for (let i = 16; i < 32; i++) {
    const f = (d & b) | (~d & c);
    const t = d;
    d = c;
    c = b;
    b = (b + rotl((a + f + T[i]! + words[(5 * i + 1) & 15]!) | 0, SHIFT[4 + (i & 3)]!)) | 0;
    a = t;
  }
  for (let i = 32; i < 48; i++) {
    const f = b ^ c ^ d;
    const t = d;
    d = c;
    c = b;
    b = (b + rotl((a + f + T[i]! + words[(3 * i + 5) & 15]!) | 0, SHIFT[8 + (i & 3)]!)) | 0;
    a = t;
  }
  for (let i = 48; i < 64; i++) {
    const f = c ^ (b | ~d);
    const t = d;
    d = c;
    c = b;
    b = (b + rotl((a + f + T[i]! + words[(7 * i) & 15]!) | 0, SHIFT[12 + (i & 3)]!)) | 0;
    a = t;
  }
  s[0] = (s[0]! + a) >>> 0;
  s[1] = (s[1]! + b) >>> 0;
  s[2] = (s[2]! + c) >>> 0;
  s[3] = (s[3]! + d) >>> 0;
}

/** Reads byte `i` of the padded message: the data, 0x80, zeros, then the bit length. */
function paddedByte(bytes: Uint8Array, length: number, paddedLength: number, i: number): number {
  if (i < length) return bytes[i]!;
  if (i === length) return 0x80;
  const lengthAt = paddedLength - 8;
  if (i < lengthAt) return 0;
  // 64-bit little-endian length in bits; JS numbers hold it exactly below 2^53.
  const bits = length * 8;
  const shift = i - lengthAt;
  if (shift < 4) return (bits >>> (shift * 8)) & 0xff;
  return (Math.floor(bits / 0x100000000) >>> ((shift - 4) * 8)) & 0xff;
}

/** MD5 of `bytes[0..length)`; the four digest words land in `out`. */
export function md5Into(bytes: Uint8Array, length: number, out: Uint32Array): void {
  out[0] = 0x67452301;
  out[1] = 0xefcdab89;
  out[2] = 0x98badcfe;
  out[3] = 0x10325476;
  const paddedLength = (((length + 8) >>> 6) + 1) << 6;
  const fullBlocks = length >>> 6;
  let at = 0;
  for (let n = 0; n < fullBlocks; n++, at += 64) {
    for (let w = 0; w < 16; w++) {
      const i = at + w * 4;
      block[w] = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    }
    compress(block, out);
  }
  for (; at < paddedLength; at += 64) {
    for (let w = 0; w < 16; w++) {
      const i = at + w * 4;
      block[w] =
        paddedByte(bytes, length, paddedLength, i) |
        (paddedByte(bytes, length, paddedLength, i + 1) << 8) |
        (paddedByte(bytes, length, paddedLength, i + 2) << 16) |
        (paddedByte(bytes, length, paddedLength, i + 3) << 24);
    }
    compress(block, out);
  }
}

/** MD5 of a key's bytes (a string as UTF-8); the digest words land in `out`. */
export function md5KeyInto(key: HashKey, out: Uint32Array): void {
  if (typeof key === "string") {
    // Encode first: encoding may replace the scratch buffer with a larger one.
    const length = encodeUtf8(key);
    md5Into(scratchBuffer(), length, out);
  } else if (key instanceof Uint8Array) md5Into(key, key.length, out);
  else throw invalidKey(key);
}

/** The first little-endian digest word of a key's MD5 (ketama's key hash) as an int32. */
export function md5KeyWord0I32(key: HashKey): number {
  md5KeyInto(key, state);
  return state[0]! | 0;
}
