import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/errors.js";
import { hashTag, MAX_SHARD_COUNT, META_GROUP, shardOf } from "../../src/shard/keys.js";

const FC_SEED = 20_240_611;
const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : new TextDecoder().decode(value);

describe("shardOf", () => {
  it("numbers shards from 1; group 0 is the meta group", () => {
    expect(META_GROUP).toBe(0);
    expect(shardOf(bytes("anything"), 1)).toBe(1);
  });

  it("never changes for a key: pinned values", () => {
    // Moving a key's shard would strand its data: these must hold in every release.
    expect([16, 4096, 65536].map((n) => shardOf(bytes(""), n))).toEqual([1, 1720, 43661]);
    expect([16, 4096, 65536].map((n) => shardOf(bytes("foo"), n))).toEqual([5, 2101, 43547]);
    expect([16, 4096, 65536].map((n) => shardOf(bytes("user:{42}:name"), n))).toEqual([
      5, 1269, 49801,
    ]);
  });

  it("stays within 1..shardCount", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 40 }),
        fc.integer({ min: 1, max: 65536 }),
        (key, n) => {
          const shard = shardOf(key, n);
          return Number.isInteger(shard) && shard >= 1 && shard <= n;
        },
      ),
      { seed: FC_SEED, numRuns: 500 },
    );
  });

  it("spreads keys evenly over the shards", () => {
    const shards = 16;
    const counts = new Array<number>(shards + 1).fill(0);
    const keys = 64 * 1024;
    for (let i = 0; i < keys; i++) counts[shardOf(bytes(`key-${i}`), shards)]!++;
    // Expected 4,096 per shard, standard deviation ~62: 6 of them either side.
    for (const count of counts.slice(1)) expect(Math.abs(count - keys / shards)).toBeLessThan(375);
  });

  it("moves a key only to the new shard when a shard is appended (jump hash)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), fc.integer({ min: 1, max: 5000 }), (key, n) => {
        const before = shardOf(key, n);
        const after = shardOf(key, n + 1);
        return after === before || after === n + 1;
      }),
      { seed: FC_SEED, numRuns: 500 },
    );
  });

  it("rejects a shard count that is not an integer from 1 to 65536", () => {
    expect(shardOf(bytes("k"), MAX_SHARD_COUNT)).toBeGreaterThanOrEqual(1);
    for (const bad of [0, -1, 1.5, Number.NaN, MAX_SHARD_COUNT + 1, Number.POSITIVE_INFINITY]) {
      expect(() => shardOf(bytes("k"), bad)).toThrow(InvalidArgumentError);
    }
    expect(() => shardOf("k" as unknown as Uint8Array, 16)).toThrow(InvalidArgumentError);
  });
});

describe("hash tags", () => {
  it("follow Redis Cluster's rule", () => {
    // The examples of the Redis Cluster specification.
    expect(text(hashTag(bytes("{user1000}.following")))).toBe("user1000");
    expect(text(hashTag(bytes("foo{}{bar}")))).toBeUndefined();
    expect(text(hashTag(bytes("foo{{bar}}zap")))).toBe("{bar");
    expect(text(hashTag(bytes("foo{bar}{zap}")))).toBe("bar");
    expect(text(hashTag(bytes("no tag")))).toBeUndefined();
    expect(text(hashTag(bytes("open { only")))).toBeUndefined();
    expect(text(hashTag(bytes("} before {")))).toBeUndefined();
  });

  it("put keys with the same tag in the same shard", () => {
    const name = shardOf(bytes("user:{42}:name"), 4096);
    expect(shardOf(bytes("user:{42}:email"), 4096)).toBe(name);
    expect(shardOf(bytes("42"), 4096)).toBe(name);
  });

  it("hash only the tag, whatever surrounds it", () => {
    const noOpen = fc.uint8Array({ maxLength: 12 }).map((b) => b.filter((x) => x !== 0x7b));
    const tag = fc
      .uint8Array({ minLength: 1, maxLength: 12 })
      .map((b) => b.filter((x) => x !== 0x7d))
      .filter((b) => b.length > 0);
    fc.assert(
      fc.property(noOpen, tag, fc.uint8Array({ maxLength: 12 }), (prefix, t, suffix) => {
        const key = new Uint8Array([...prefix, 0x7b, ...t, 0x7d, ...suffix]);
        expect(hashTag(key)).toEqual(t);
        expect(shardOf(key, 1024)).toBe(shardOf(t, 1024));
      }),
      { seed: FC_SEED, numRuns: 300 },
    );
  });
});
