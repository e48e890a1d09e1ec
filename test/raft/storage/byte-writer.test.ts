import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ByteWriter, REF_MIN_BYTES } from "../../../src/raft/storage/codec.js";
import { crc32c } from "../../../src/raft/storage/crc32c.js";
import { unwritten } from "../../../src/raft/storage/node-fs.js";
import { parseRecordAt, writeRecord } from "../../../src/raft/storage/record.js";

type Op =
  | { kind: "u8"; v: number }
  | { kind: "u32"; v: number }
  | { kind: "u64"; v: number }
  | { kind: "bytes" | "ref"; size: number; seed: number }
  | { kind: "pad"; to: number };

function filled(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 131 + seed * 17 + (i >>> 9)) & 0xff;
  return out;
}

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("u8" as const), v: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("u32" as const), v: fc.nat() }),
  fc.record({ kind: fc.constant("u64" as const), v: fc.maxSafeNat() }),
  fc.record({
    kind: fc.constantFrom("bytes" as const, "ref" as const),
    // Both sides of the reference threshold.
    size: fc.oneof(fc.nat(64), fc.integer({ min: REF_MIN_BYTES - 2, max: REF_MIN_BYTES + 70 })),
    seed: fc.nat(255),
  }),
  fc.record({ kind: fc.constant("pad" as const), to: fc.constantFrom(4, 8) }),
);

/** Applies `ops`; `byRef` false copies every binary, the writer's behaviour before references. */
function write(w: ByteWriter, ops: readonly Op[], byRef: boolean): void {
  for (const o of ops) {
    if (o.kind === "u8") w.u8(o.v);
    else if (o.kind === "u32") w.u32(o.v);
    else if (o.kind === "u64") w.u64(o.v);
    else if (o.kind === "pad") w.padTo(o.to);
    else if (o.kind === "ref" && byRef) w.ref(filled(o.size, o.seed));
    else w.bytes(filled(o.size, o.seed));
  }
}

function joined(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

/** Byte equality without comparing element by element through the matcher. */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

describe("ByteWriter with referred binaries", () => {
  it("writes the same bytes as copying, in parts, with the same offsets, spans and patches", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), fc.nat(), fc.nat(), (ops, a, b) => {
        const refs = new ByteWriter(16);
        const copies = new ByteWriter(16);
        // A header patched after everything else, as records are framed.
        refs.u32(0);
        copies.u32(0);
        write(refs, ops, true);
        write(copies, ops, false);
        // ...and one after the referred binaries, whose offset counts them.
        const tail = refs.length;
        refs.u32(0);
        copies.u32(0);
        refs.patchU32(tail, 0xdeadbeef);
        copies.patchU32(tail, 0xdeadbeef);
        refs.patchU32(0, refs.length);
        copies.patchU32(0, copies.length);
        const expected = copies.view0();
        expect(refs.length).toBe(expected.length);
        expect(same(joined(refs.parts()), expected)).toBe(true);
        expect(same(refs.finish(), expected)).toBe(true);
        const from = a % (expected.length + 1);
        const to = from + (b % (expected.length - from + 1));
        const spanned = [...refs.spans(from, to)].map(([bytes, s, e]) => bytes.subarray(s, e));
        expect(same(joined(spanned), expected.subarray(from, to))).toBe(true);
        expect(spanned.every((s) => s.length > 0)).toBe(true);
      }),
      { seed: 23, numRuns: 200 },
    );
  });

  it("frames a record around a referred binary exactly as around a copy", () => {
    const big = filled(REF_MIN_BYTES + 3, 9);
    const framed = (byRef: boolean) => {
      const w = new ByteWriter(64);
      writeRecord(w, 7, (p) => {
        p.u64(42);
        if (byRef) p.ref(big);
        else p.bytes(big);
        p.u32(5);
      });
      return w;
    };
    const withRef = framed(true);
    const expected = framed(false).view0();
    expect(same(joined(withRef.parts()), expected)).toBe(true);
    const parsed = parseRecordAt(expected, 0, expected.length);
    expect(parsed).toMatchObject({ ok: true, type: 7, next: expected.length });
    // The binary is one of the parts, not a copy of it.
    expect(withRef.parts()).toContain(big);
    expect(crc32c(joined(withRef.parts()))).toBe(crc32c(expected));
  });

  it("copies binaries under the threshold and refuses a view or patch it cannot give", () => {
    const w = new ByteWriter(8);
    w.ref(filled(REF_MIN_BYTES - 1, 1));
    expect(w.parts()).toHaveLength(1);
    expect(w.view0()).toHaveLength(REF_MIN_BYTES - 1);
    w.ref(filled(REF_MIN_BYTES, 2));
    expect(w.parts()).toHaveLength(2);
    expect(() => w.view0()).toThrow(RangeError);
    expect(() => w.patchU32(REF_MIN_BYTES + 10, 1)).toThrow(RangeError);
    expect(() => w.patchU32(REF_MIN_BYTES - 2, 1)).toThrow(RangeError);
  });
});

describe("unwritten", () => {
  it("leaves exactly the bytes after a short write, with no empty parts", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        (parts, k) => {
          const all = joined(parts);
          const written = k % (all.length + 1);
          const left = unwritten(parts, written);
          expect(same(joined(left), all.subarray(written))).toBe(true);
          expect(left.every((p) => p.length > 0)).toBe(true);
        },
      ),
      { seed: 5, numRuns: 300 },
    );
  });
});
