import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeUtf8, scratchBuffer } from "../../src/hashring/keys.js";
import { md5KeyInto } from "../../src/hashring/md5.js";
import {
  fmix32,
  murmur3Key,
  murmur3U32,
  murmur3U32PremixedI32,
  premixBlock,
} from "../../src/hashring/murmur3.js";
import { build, FC_SEED, STATELESS_ALGORITHMS } from "./helpers.js";

const utf16String = fc
  .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 })
  .map((units) => String.fromCharCode(...units));

function md5Hex(key: string | Uint8Array): string {
  const words = new Uint32Array(4);
  md5KeyInto(key, words);
  return Buffer.from(words.buffer).toString("hex");
}

describe("murmur3_x86_32", () => {
  it("matches the reference implementation's published values", () => {
    expect(murmur3Key("", 0)).toBe(0);
    expect(murmur3Key("", 1)).toBe(0x514e28b7);
    expect(murmur3Key("hello", 0)).toBe(0x248bfa47);
    expect(murmur3Key("The quick brown fox jumps over the lazy dog", 0)).toBe(0x2e4ff723);
  });

  it("hashes a one-block value the same as its four little-endian bytes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer(), (value, seed) => {
        const bytes = new Uint8Array(new Uint32Array([value]).buffer);
        expect(murmur3U32(value, seed)).toBe(murmur3Key(bytes, seed));
        expect(murmur3U32PremixedI32(premixBlock(value), seed) >>> 0).toBe(murmur3U32(value, seed));
      }),
      { seed: FC_SEED, numRuns: 300 },
    );
  });

  it("fmix32 is a bijection on a sample (distinct inputs, distinct outputs)", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 100_000; i++) seen.add(fmix32(i * 0x9e3779b9));
    expect(seen.size).toBe(100_000);
  });
});

describe("MD5", () => {
  it("matches the RFC 1321 test suite", () => {
    expect(md5Hex("")).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(md5Hex("a")).toBe("0cc175b9c0f1b6a831c399e269772661");
    expect(md5Hex("abc")).toBe("900150983cd24fb0d6963f7d28e17f72");
    expect(md5Hex("message digest")).toBe("f96b697d7cb7938d525a2f31aaf161d0");
    expect(md5Hex("abcdefghijklmnopqrstuvwxyz")).toBe("c3fcd3d76192e4007dfb496cca67e13b");
    expect(md5Hex("1234567890".repeat(8))).toBe("57edf4a22be3c955ac49da2e2107b67a");
  });

  it("agrees with node:crypto on arbitrary bytes, across block boundaries", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(md5Hex(bytes)).toBe(createHash("md5").update(bytes).digest("hex"));
      }),
      { seed: FC_SEED, numRuns: 400 },
    );
  });
});

describe("string keys are hashed as their UTF-8 bytes", () => {
  it("encodes every UTF-16 string exactly as TextEncoder does (lone surrogates -> U+FFFD)", () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(utf16String, (text) => {
        const length = encodeUtf8(text);
        expect(Buffer.from(scratchBuffer().subarray(0, length))).toEqual(
          Buffer.from(encoder.encode(text)),
        );
      }),
      { seed: FC_SEED, numRuns: 500 },
    );
  });

  it("maps a string and its UTF-8 bytes to the same node in every algorithm", () => {
    const encoder = new TextEncoder();
    const placements = STATELESS_ALGORITHMS.map((a) => build(a, ["a", "b", "c", "d", "e"]));
    fc.assert(
      fc.property(utf16String, (text) => {
        const bytes = encoder.encode(text);
        for (const p of placements) {
          expect(p.get(bytes)).toBe(p.get(text));
          expect(p.getN(bytes, 3)).toEqual(p.getN(text, 3));
        }
      }),
      { seed: FC_SEED, numRuns: 300 },
    );
  });

  it("hashes long non-ASCII keys (the scratch buffer grows) without changing results", () => {
    const long = "ключ-".repeat(2000);
    const bytes = new TextEncoder().encode(long);
    expect(murmur3Key(long, 7)).toBe(murmur3Key(bytes, 7));
    expect(md5Hex(long)).toBe(createHash("md5").update(bytes).digest("hex"));
  });
});
