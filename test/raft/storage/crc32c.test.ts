import { createRequire } from "node:module";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  crc32c,
  crc32cImplementation,
  crc32cUpdate,
  crc32cUpdateJs,
} from "../../../src/raft/storage/crc32c.js";

/** Bit-at-a-time CRC-32C straight from the definition, to check the table-driven one against. */
function crc32cBitwise(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe("crc32c", () => {
  it("matches the RFC 3720 (iSCSI) test vectors", () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it("agrees with the bitwise definition, on whole buffers and ranges, chunk by chunk", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const lo = bytes.length === 0 ? 0 : a % (bytes.length + 1);
        const hi = lo + (bytes.length === 0 ? 0 : b % (bytes.length - lo + 1));
        expect(crc32c(bytes)).toBe(crc32cBitwise(bytes));
        expect(crc32c(bytes, lo, hi)).toBe(crc32cBitwise(bytes.subarray(lo, hi)));
        expect(crc32cUpdate(crc32c(bytes, 0, lo), bytes, lo)).toBe(crc32cBitwise(bytes));
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it("gives the JS loop's answers on long ranges, which the native binding serves", () => {
    // Ranges of 16 KiB and more (the binding's), and less (the loop's), at odd
    // offsets; running checksums continued in both from arbitrary states.
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 33_000, maxLength: 40_000 }),
        fc.nat(400),
        fc.nat(20_000),
        fc.nat(400),
        (bytes, a, b, c) => {
          const lo = a;
          const cut = lo + b;
          const hi = bytes.length - c;
          expect(crc32c(bytes)).toBe(crc32cUpdateJs(0, bytes));
          expect(crc32c(bytes, lo, hi)).toBe(crc32cUpdateJs(0, bytes, lo, hi));
          const state = crc32cUpdateJs(0, bytes, lo, cut);
          expect(crc32cUpdate(state, bytes, cut, hi)).toBe(crc32cUpdateJs(state, bytes, cut, hi));
          expect(crc32cUpdate(crc32c(bytes, lo, cut), bytes, cut, hi)).toBe(
            crc32cBitwise(bytes.subarray(lo, hi)),
          );
        },
      ),
      { seed: 11, numRuns: 100 },
    );
    const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 31 + (i >>> 8)) & 0xff);
    expect(crc32c(big)).toBe(crc32cBitwise(big));
    expect(crc32c(big, 3, big.length - 5)).toBe(crc32cBitwise(big.subarray(3, big.length - 5)));
  });

  it("uses the native binding wherever its prebuilt binary is installed", () => {
    const require = createRequire(import.meta.url);
    const libc = process.platform === "linux" ? "-gnu" : "";
    let installed = false;
    try {
      require.resolve(`@node-rs/crc32-${process.platform}-${process.arch}${libc}`);
      installed = true;
    } catch {
      // No prebuilt binary for this platform: the JS loop serves, as checked above.
    }
    expect(crc32cImplementation()).toBe(installed ? "native" : "js");
  });
});
