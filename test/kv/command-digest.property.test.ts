import crypto from "node:crypto";
import fc from "fast-check";
import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { commandDigest, HASH_IN_PLACE_BYTES } from "../../src/kv/command-digest.js";
import type { Compare, PutCommand, TxnOp, WriteCommand } from "../../src/kv/types.js";

/**
 * The digest's definition, as every version has computed it: the SHA-256 of
 * the canonical form (fields sorted, absent ones left out) packed whole.
 * Hashing big binaries in parts must give the same bytes to the hash.
 */
const packr = new Packr({ useRecords: false, moreTypes: false });
function canonicalWhole(value: unknown): unknown {
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(canonicalWhole);
  if (typeof value === "object" && value !== null) {
    return Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => [k, canonicalWhole((value as Record<string, unknown>)[k])]);
  }
  return value;
}
const definition = (c: WriteCommand) =>
  crypto
    .createHash("sha256")
    .update(packr.pack(canonicalWhole(c)))
    .digest("hex");
const digest = (c: WriteCommand) => Buffer.from(commandDigest(c)).toString("hex");

/** Sizes on both sides of every header MessagePack switches at, and of the in-place threshold. */
const sizeArb = fc.constantFrom(
  0,
  1,
  31,
  255,
  256,
  HASH_IN_PLACE_BYTES - 1,
  HASH_IN_PLACE_BYTES,
  65_535,
  65_536,
  70_000,
);
const bytesArb = fc.tuple(sizeArb, fc.integer({ min: 0, max: 255 })).map(([n, seed]) => {
  const bytes = new Uint8Array(n).fill(seed);
  for (let i = 0; i < n; i += 4099) bytes[i] = (i * 31) & 0xff;
  return bytes;
});
const leaseArb = fc.constantFrom(0, 1, 127, 128, 65_536, 2 ** 32, 2 ** 53 - 1);
const putArb: fc.Arbitrary<PutCommand> = fc.record(
  {
    type: fc.constant("put" as const),
    key: bytesArb,
    value: bytesArb,
    lease: leaseArb,
    prevKv: fc.boolean(),
    ignoreValue: fc.boolean(),
  },
  { requiredKeys: ["type", "key", "value"] },
);
const compareArb: fc.Arbitrary<Compare> = fc.record({
  key: bytesArb,
  target: fc.constantFrom("value" as const, "version" as const, "mod" as const),
  result: fc.constantFrom("equal" as const, "greater" as const),
  value: fc.oneof(bytesArb, leaseArb),
});
const { txn } = fc.letrec<{ op: TxnOp; txn: WriteCommand }>((tie) => ({
  op: fc.oneof(
    { depthSize: "small" },
    putArb,
    fc.record({ type: fc.constant("deleteRange" as const), key: bytesArb, rangeEnd: bytesArb }),
    tie("txn") as fc.Arbitrary<TxnOp>,
  ),
  txn: fc.record({
    type: fc.constant("txn" as const),
    compare: fc.array(compareArb, { maxLength: 3 }),
    success: fc.array(tie("op") as fc.Arbitrary<TxnOp>, { maxLength: 18 }),
    failure: fc.array(tie("op") as fc.Arbitrary<TxnOp>, { maxLength: 2 }),
  }),
}));

describe("command digests with big binaries", () => {
  it("hash the same bytes as packing the canonical form whole", () => {
    fc.assert(
      fc.property(fc.oneof(putArb, txn), (command) => {
        expect(digest(command)).toBe(definition(command));
      }),
      { seed: 1207, numRuns: 300 },
    );
  });

  it("hash arrays around MessagePack's fixed-array limit the same way", () => {
    const big: PutCommand = {
      type: "put",
      key: Uint8Array.of(1),
      value: new Uint8Array(HASH_IN_PLACE_BYTES).fill(3),
    };
    for (const n of [15, 16, 17]) {
      const command: WriteCommand = {
        type: "txn",
        compare: [],
        success: Array.from({ length: n }, () => big),
        failure: [],
      };
      expect(digest(command)).toBe(definition(command));
    }
  });

  it("tell commands apart that differ in one byte of a big value", () => {
    const value = new Uint8Array(HASH_IN_PLACE_BYTES * 4).fill(7);
    const a: PutCommand = { type: "put", key: Uint8Array.of(1), value };
    const changed = value.slice();
    changed[changed.length - 1] = 8;
    expect(digest({ ...a, value: changed })).not.toBe(digest(a));
    // The same bytes in another buffer digest the same.
    expect(digest({ ...a, value: value.slice() })).toBe(digest(a));
  });
});
