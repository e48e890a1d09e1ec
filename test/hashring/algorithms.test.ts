/** Algorithm-specific behaviour: jump, rendezvous, maglev. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AUTO_SLOTS_PER_NODE,
  JumpHash,
  jumpBucket,
  jumpBucketBigInt,
  MaglevHash,
  murmur3Key,
  RendezvousHash,
} from "../../src/hashring/index.js";
import { murmur3U32 } from "../../src/hashring/murmur3.js";
import { isPrime, nextPrimeAbove } from "../../src/hashring/primes.js";
import { FC_SEED, nodeNames, seededKeys } from "./helpers.js";

const KEYS = seededKeys(30_000, 77);

/** The paper's C++ code, transcribed with 64-bit BigInt arithmetic as the reference. */
function referenceJump(key: bigint, buckets: number): number {
  let k = key;
  let b = -1n;
  let j = 0n;
  while (j < BigInt(buckets)) {
    b = j;
    k = BigInt.asUintN(64, k * 2862933555777941757n + 1n);
    j = BigInt(Math.floor(Number(b + 1n) * (2 ** 31 / Number((k >> 33n) + 1n))));
  }
  return Number(b);
}

/** Each node's fraction of KEYS. */
function shares(get: (k: string) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of KEYS) {
    const node = get(key);
    counts.set(node, (counts.get(node) ?? 0) + 1);
  }
  return new Map([...counts].map(([n, c]) => [n, c / KEYS.length]));
}

describe("jump consistent hash", () => {
  it("equals the paper's reference code for any 64-bit key and bucket count", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 2 ** 31 - 1 })),
        (key, buckets) => {
          expect(jumpBucketBigInt(key, buckets)).toBe(referenceJump(key, buckets));
        },
      ),
      { seed: FC_SEED, numRuns: 2000 },
    );
  });

  it("moves a key only into the new bucket when a bucket is appended", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer(),
        fc.integer({ min: 1, max: 3000 }),
        (hi, lo, buckets) => {
          const before = jumpBucket(hi, lo, buckets);
          const after = jumpBucket(hi, lo, buckets + 1);
          expect(before).toBeGreaterThanOrEqual(0);
          expect(before).toBeLessThan(buckets);
          expect(after === before || after === buckets).toBe(true);
        },
      ),
      { seed: FC_SEED, numRuns: 2000 },
    );
  });

  it("a node of weight w owns w buckets and so w shares of the keys", () => {
    const jump = new JumpHash();
    jump.addNode("a", 1);
    jump.addNode("b", 2);
    jump.addNode("c", 5);
    expect(jump.bucketCount).toBe(8);
    const s = shares((k) => jump.get(k));
    expect(Math.abs(s.get("a")! - 1 / 8)).toBeLessThan(0.01);
    expect(Math.abs(s.get("c")! - 5 / 8)).toBeLessThan(0.01);
    for (const key of KEYS.slice(0, 2000)) {
      const bucket = jump.bucketOf(key);
      expect(jump.get(key)).toBe(bucket === 0 ? "a" : bucket <= 2 ? "b" : "c");
    }
  });

  it("getN still returns every node when one is drawn very rarely", () => {
    const jump = new JumpHash();
    jump.addNode("heavy", 1_000_000);
    jump.addNode("tiny", 1);
    for (const key of KEYS.slice(0, 200)) {
      expect(new Set(jump.getN(key, 2))).toEqual(new Set(["heavy", "tiny"]));
    }
  });
});

describe("rendezvous hashing", () => {
  it("picks the node with the highest w / -ln(u), as a direct computation does", () => {
    const nodes = [
      { id: "a", weight: 1 },
      { id: "b", weight: 2.5 },
      { id: "c", weight: 0.5 },
      { id: "d", weight: 1 },
    ];
    const hrw = new RendezvousHash();
    for (const n of nodes) hrw.addNode(n.id, n.weight);
    for (const key of KEYS.slice(0, 3000)) {
      const keyHash = murmur3Key(key, 0);
      let best = "";
      let bestScore = -1;
      for (const n of nodes) {
        const u = (murmur3U32(murmur3Key(n.id, 0x2e4d3c1b), keyHash) + 0.5) / 2 ** 32;
        const score = n.weight / -Math.log(u);
        if (score > bestScore) {
          bestScore = score;
          best = n.id;
        }
      }
      expect(hrw.get(key)).toBe(best);
    }
  });

  it("with equal weights the fast path picks the same node as the weighted formula", () => {
    const equal = new RendezvousHash();
    const nearlyEqual = new RendezvousHash();
    for (const id of nodeNames(9)) {
      equal.addNode(id, 3);
      // A different weight on one absent node forces the weighted path below.
      nearlyEqual.addNode(id, 3);
    }
    nearlyEqual.addNode("zz-never-wins", 1e-9);
    for (const key of KEYS.slice(0, 5000)) expect(nearlyEqual.get(key)).toBe(equal.get(key));
  });

  it("gives each node its weight's share of the keys", () => {
    const hrw = new RendezvousHash();
    hrw.addNode("one", 1);
    hrw.addNode("two", 2);
    hrw.addNode("three", 3);
    const s = shares((k) => hrw.get(k));
    expect(Math.abs(s.get("one")! - 1 / 6)).toBeLessThan(0.01);
    expect(Math.abs(s.get("two")! - 2 / 6)).toBeLessThan(0.01);
    expect(Math.abs(s.get("three")! - 3 / 6)).toBeLessThan(0.01);
  });
});

describe("maglev", () => {
  it("fills every slot and, with equal weights, gives nodes counts that differ by at most one", () => {
    const maglev = new MaglevHash({ tableSize: 10007 });
    for (const id of nodeNames(13)) maglev.addNode(id);
    const counts = [...maglev.slotCounts().values()];
    expect(counts.reduce((a, b) => a + b, 0)).toBe(10007);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  it("gives weighted nodes slots in proportion to weight", () => {
    const maglev = new MaglevHash({ tableSize: 30011 });
    maglev.addNode("one", 1);
    maglev.addNode("two", 2);
    maglev.addNode("four", 4);
    const counts = maglev.slotCounts();
    expect(Math.abs(counts.get("one")! / 30011 - 1 / 7)).toBeLessThan(0.005);
    expect(Math.abs(counts.get("four")! / 30011 - 4 / 7)).toBeLessThan(0.005);
  });

  it("sizes itself to the smallest prime above 100 x nodes and keeps that size while nodes change", () => {
    const maglev = new MaglevHash();
    expect(maglev.tableSize).toBeNull();
    for (const id of nodeNames(10)) maglev.addNode(id);
    expect(maglev.tableSize).toBe(nextPrimeAbove(AUTO_SLOTS_PER_NODE * 10));
    expect(maglev.tableSize).toBe(1009);
    maglev.addNode("eleventh");
    maglev.removeNode("node-0");
    expect(maglev.tableSize).toBe(1009);
    // Below 50 slots per node it regrows, again to the smallest prime above 100 x nodes.
    for (let i = 0; i < 15; i++) maglev.addNode(`more-${i}`);
    expect(maglev.tableSize).toBe(nextPrimeAbove(100 * 25));
    expect(isPrime(maglev.tableSize!)).toBe(true);
    expect(maglev.toJSON().tableSize).toBe(maglev.tableSize);
  });

  it("does not depend on insertion order", () => {
    const a = new MaglevHash({ tableSize: 2003 });
    const b = new MaglevHash({ tableSize: 2003 });
    const ids = nodeNames(8);
    for (const id of ids) a.addNode(id);
    for (const id of [...ids].reverse()) b.addNode(id);
    for (const key of KEYS.slice(0, 3000)) expect(b.get(key)).toBe(a.get(key));
  });
});
