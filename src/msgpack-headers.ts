/**
 * MessagePack headers, for code that writes an encoding in parts (a big
 * binary as its header, then its own bytes, never copied) that must
 * concatenate to exactly what msgpackr packs whole: the Raft transport's
 * entry batches and the key space's command digests.
 */

/** The one-byte header of an array of n <= 15 elements. */
export const fixArray = (n: number): number => 0x90 | n;

/** The header of an array of n elements. */
export function arrayHeader(n: number): Uint8Array {
  return n <= 15 ? Uint8Array.of(fixArray(n)) : sizedHeader(n, 0xdc, 0xdd);
}

/** The header of a binary of n >= 256 bytes (bin 16 or bin 32: shorter ones are packed whole). */
export function bigBinaryHeader(n: number): Uint8Array {
  if (n < 256) throw new RangeError(`a binary of ${n} bytes has a bin 8 header`);
  return sizedHeader(n, 0xc5, 0xc6);
}

/** A type byte, then n big-endian in 16 bits (`type16`) or, if larger, 32 (`type32`). */
function sizedHeader(n: number, type16: number, type32: number): Uint8Array {
  const out = new Uint8Array(n <= 0xffff ? 3 : 5);
  const view = new DataView(out.buffer);
  if (n <= 0xffff) {
    out[0] = type16;
    view.setUint16(1, n);
  } else {
    out[0] = type32;
    view.setUint32(1, n);
  }
  return out;
}
