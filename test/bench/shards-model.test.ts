import { describe, expect, it } from "vitest";
import { runScaleModel, SHARD_BYTES } from "../../bench/shards/scale-model.js";

describe("shards scale model", () => {
  const small = { nodeCounts: [3, 5, 10, 20], shards: 512 };

  it("is deterministic for a seed, and the seed matters", () => {
    const a = runScaleModel({ ...small, seed: 7 });
    expect(runScaleModel({ ...small, seed: 7 })).toEqual(a);
    expect(runScaleModel({ ...small, seed: 8 }).movedOnFailure).not.toEqual(a.movedOnFailure);
  });

  it("moves no more than 1.1 × the ideal bytes on a failure and on a join", () => {
    for (const seed of [1, 2, 3]) {
      const result = runScaleModel({ ...small, seed });
      expect(result.kind).toBe("shards-scale-model");
      // Every replica the failed node held must be re-created somewhere.
      expect(result.movedOnFailure.ratio).toBeGreaterThanOrEqual(1);
      expect(result.movedOnFailure.ratio).toBeLessThanOrEqual(1.1);
      // The new node is filled to at least its lower bound (its share / 1.1).
      expect(result.movedOnJoin.ratio).toBeGreaterThan(0.85);
      expect(result.movedOnJoin.ratio).toBeLessThanOrEqual(1.1);
      expect(result.targets.every((t) => t.met)).toBe(true);
    }
  });

  it("grows throughput with the node count", () => {
    const result = runScaleModel(small);
    expect(result.nodes).toEqual(small.nodeCounts);
    expect(result.throughput).toHaveLength(4);
    for (let i = 1; i < 4; i++)
      expect(result.throughput[i]!).toBeGreaterThan(result.throughput[i - 1]!);
    expect(result.linearity[0]).toBe(1);
    expect(result.linearityAt100).toBe(result.linearity.at(-1));
  });

  it("re-replicates in time inversely proportional to the catch-up bandwidth", () => {
    const slow = runScaleModel({ ...small, bandwidth: 50e6, sizeVariation: 0 });
    const fast = runScaleModel({ ...small, bandwidth: 100e6, sizeVariation: 0 });
    expect(fast.reReplicationSeconds).toBeCloseTo(slow.reReplicationSeconds / 2, 2);
    // At least one copy at bandwidth / slots, at most all of them one after another.
    const copy = (SHARD_BYTES * 2) / 100e6;
    const copies = fast.movedOnFailure.bytes / SHARD_BYTES;
    expect(fast.reReplicationSeconds).toBeGreaterThanOrEqual(copy - 1e-6);
    expect(fast.reReplicationSeconds).toBeLessThan(copies * copy);
  });

  it("scales to 100 nodes × 4,096 shards with linearity >= 0.8", () => {
    const result = runScaleModel();
    expect(result.nodes).toEqual([3, 5, 10, 20, 50, 100]);
    expect(result.linearityAt100).toBeGreaterThanOrEqual(0.8);
    expect(result.movedOnFailure.ratio).toBeLessThanOrEqual(1.1);
    expect(result.movedOnJoin.ratio).toBeLessThanOrEqual(1.1);
  });
});
