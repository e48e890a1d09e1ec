/**
 * MurmurHash3 x86_32 (Austin Appleby's public-domain design), the fast
 * non-cryptographic hash behind the default ring, jump, rendezvous and maglev.
 * Every function here is pure: the same bytes give the same value in every
 * process, on every platform.
 *
 * Functions named ...I32 return the 32 hash bits as a signed int32. V8 keeps
 * int32 values unboxed across calls, while a uint32 above 2^31 returned from
 * a call that is not inlined becomes a heap number: the lookup hot paths use
 * the I32 forms so they allocate nothing, and convert with `>>> 0` locally.
 */
import { encodeUtf8, type HashKey, invalidKey, scratchBuffer } from "./keys.js";

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** The murmur3 finaliser, a bijection on 32-bit values with full avalanche (int32 result). */
export function fmix32I32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** The murmur3 finaliser (uint32 result). */
export function fmix32(value: number): number {
  return fmix32I32(value) >>> 0;
}

/** The block's contribution before it meets the running hash; depends on the block alone. */
export function premixBlock(block: number): number {
  const k = Math.imul(block, C1);
  return Math.imul((k << 15) | (k >>> 17), C2);
}

function mixPremixed(hash: number, premixed: number): number {
  let h = hash ^ premixed;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function mixBlock(hash: number, block: number): number {
  return mixPremixed(hash, premixBlock(block));
}

function mixTail(hash: number, tail: number): number {
  let k = Math.imul(tail, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  return hash ^ k;
}

/** murmur3_x86_32 of `bytes[0..length)` (int32 result). */
export function murmur3BytesI32(bytes: Uint8Array, length: number, seed: number): number {
  let h = seed | 0;
  const blockEnd = length & ~3;
  let i = 0;
  for (; i < blockEnd; i += 4) {
    h = mixBlock(
      h,
      bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24),
    );
  }
  const rest = length & 3;
  if (rest !== 0) {
    let tail = bytes[i]!;
    if (rest > 1) tail |= bytes[i + 1]! << 8;
    if (rest > 2) tail |= bytes[i + 2]! << 16;
    h = mixTail(h, tail);
  }
  return fmix32I32(h ^ length);
}

function murmur3Encoded(text: string, seed: number): number {
  // Encode first: encoding may replace the scratch buffer with a larger one.
  const length = encodeUtf8(text);
  return murmur3BytesI32(scratchBuffer(), length, seed);
}

/**
 * murmur3_x86_32 of a string's UTF-8 bytes. ASCII is read straight from the
 * string (an ASCII code unit is its own UTF-8 byte); anything else is encoded
 * into the shared scratch buffer first.
 */
function murmur3StringI32(text: string, seed: number): number {
  const length = text.length;
  let h = seed | 0;
  const blockEnd = length & ~3;
  let i = 0;
  for (; i < blockEnd; i += 4) {
    const a = text.charCodeAt(i);
    const b = text.charCodeAt(i + 1);
    const c = text.charCodeAt(i + 2);
    const d = text.charCodeAt(i + 3);
    if ((a | b | c | d) >= 0x80) return murmur3Encoded(text, seed);
    h = mixBlock(h, a | (b << 8) | (c << 16) | (d << 24));
  }
  const rest = length & 3;
  if (rest !== 0) {
    const a = text.charCodeAt(i);
    const b = rest > 1 ? text.charCodeAt(i + 1) : 0;
    const c = rest > 2 ? text.charCodeAt(i + 2) : 0;
    if ((a | b | c) >= 0x80) return murmur3Encoded(text, seed);
    h = mixTail(h, a | (b << 8) | (c << 16));
  }
  return fmix32I32(h ^ length);
}

/** murmur3_x86_32 of a key (a string as its UTF-8 bytes), int32 result. Throws on a non-key. */
export function murmur3KeyI32(key: HashKey, seed: number): number {
  if (typeof key === "string") return murmur3StringI32(key, seed);
  if (key instanceof Uint8Array) return murmur3BytesI32(key, key.length, seed);
  throw invalidKey(key);
}

/** murmur3_x86_32 of a key (a string as its UTF-8 bytes), uint32 result. */
export function murmur3Key(key: HashKey, seed: number): number {
  return murmur3KeyI32(key, seed) >>> 0;
}

/** murmur3_x86_32 of the four little-endian bytes of `value` (uint32 result). */
export function murmur3U32(value: number, seed: number): number {
  return fmix32I32(mixBlock(seed | 0, value | 0) ^ 4) >>> 0;
}

/** murmur3U32(value, seed) given premixBlock(value), int32 result: one block under many seeds. */
export function murmur3U32PremixedI32(premixed: number, seed: number): number {
  return fmix32I32(mixPremixed(seed | 0, premixed) ^ 4);
}
