/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
 * every WAL record and snapshot file.
 *
 * Two implementations give the same answers. `@node-rs/crc32` is a prebuilt
 * binding (no build step) that uses the CPU's CRC-32C instruction: about 13
 * GB/s here, against 1 GB/s for the JS loop below (1 ms per MiB, on the event
 * loop; checksums were 11 to 17% of a member's profile under 1 MiB values).
 * Where no prebuilt binary loads, the JS loop serves alone. Ranges under
 * NATIVE_MIN_BYTES go to the loop either way, so a process that only ever
 * checksums small records never loads the binding.
 *
 * The JS loop is table-driven "slicing by 8": eight 256-entry tables let it
 * consume eight bytes per step. The RFC 3720 test vectors pin both down.
 */
import { createRequire } from "node:module";

const POLY_REFLECTED = 0x82f63b78;

function buildTables(): Uint32Array[] {
  const tables: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY_REFLECTED : c >>> 1;
    t0[n] = c >>> 0;
  }
  tables.push(t0);
  for (let s = 1; s < 8; s++) {
    const prev = tables[s - 1]!;
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) t[n] = (prev[n]! >>> 8) ^ t0[prev[n]! & 0xff]!;
    tables.push(t);
  }
  return tables;
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = buildTables() as [
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
  Uint32Array,
];

/** The JS loop: crc32cUpdate's contract, on every platform. */
export function crc32cUpdateJs(
  crc: number,
  bytes: Uint8Array,
  start = 0,
  end = bytes.length,
): number {
  let c = ~crc >>> 0;
  let i = start;
  const fastEnd = end - 8;
  while (i <= fastEnd) {
    const lo =
      (c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>>
      0;
    c =
      T7[lo & 0xff]! ^
      T6[(lo >>> 8) & 0xff]! ^
      T5[(lo >>> 16) & 0xff]! ^
      T4[lo >>> 24]! ^
      T3[bytes[i + 4]!]! ^
      T2[bytes[i + 5]!]! ^
      T1[bytes[i + 6]!]! ^
      T0[bytes[i + 7]!]!;
    i += 8;
  }
  while (i < end) {
    c = T0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    i++;
  }
  return ~c >>> 0;
}

/** `initialState` is a previous result to continue from, as crc32cUpdate's `crc`. */
type NativeCrc32c = (input: Uint8Array, initialState?: number) => number;

/** Loaded on the first long range: a process that never checksums one does not map the binding (about 4 MB of RSS). */
let native: NativeCrc32c | null | undefined;

function loadNative(): NativeCrc32c | null {
  if (native === undefined) {
    try {
      const loaded = createRequire(import.meta.url)("@node-rs/crc32") as { crc32c?: unknown };
      native = typeof loaded.crc32c === "function" ? (loaded.crc32c as NativeCrc32c) : null;
    } catch {
      native = null;
    }
  }
  return native;
}

/** Which implementation serves ranges of NATIVE_MIN_BYTES and more (loading the binding if it can). */
export function crc32cImplementation(): "native" | "js" {
  return loadNative() === null ? "js" : "native";
}

/**
 * Below this the JS loop serves: a call into native code costs about 150 ns,
 * and ranges this short take the loop microseconds at most.
 */
const NATIVE_MIN_BYTES = 16 * 1024;

/**
 * Continues a running CRC-32C over `bytes[start, end)`. Start a fresh
 * checksum with `crc = 0`; feeding the result back in extends it, so a
 * stream can be checksummed chunk by chunk.
 */
export function crc32cUpdate(
  crc: number,
  bytes: Uint8Array,
  start = 0,
  end = bytes.length,
): number {
  const fast = end - start >= NATIVE_MIN_BYTES ? loadNative() : null;
  if (fast === null) return crc32cUpdateJs(crc, bytes, start, end);
  const range = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
  return fast(range, crc) >>> 0;
}

/** CRC-32C of `bytes[start, end)`. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32cUpdate(0, bytes, start, end);
}
