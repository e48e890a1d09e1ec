/**
 * Bytes held as a list of parts, written back to back: what code that avoids
 * copying big binaries hands on (the Raft transport's frames, the WAL's
 * records) until something needs them in one piece.
 */

/** The parts' total length. */
export function partsByteLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  return n;
}

/** Copies the parts, after `offset` free bytes, into one new array. */
export function concatParts(parts: readonly Uint8Array[], offset = 0): Uint8Array {
  const out = new Uint8Array(offset + partsByteLength(parts));
  let at = offset;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
