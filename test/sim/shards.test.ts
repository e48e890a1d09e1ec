import { describe, expect, it } from "vitest";
import { runShardSimulation } from "../../src/sim/shards/run.js";

const SEEDS = [1, 2, 3, 4];

describe("simulation: the sharded tier under crashes, joins, drains and partitions", () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: every shard back in place, no acknowledged write lost, linearizable per key`, async () => {
      const result = await runShardSimulation({ seed });
      expect(result.failure, JSON.stringify(result)).toBeUndefined();
      expect(result.ok).toBe(true);
      // The run did what it is meant to: moves happened and clients were served.
      expect(result.mapsAdopted).toBeGreaterThan(0);
      expect(result.opsAcknowledged).toBeGreaterThan(200);
      expect(
        result.crashes + result.permanentFailures + result.joins + result.drains,
      ).toBeGreaterThan(0);
    });
  }

  it("replays a seed exactly", async () => {
    const a = await runShardSimulation({ seed: 7, faultMs: 1000 });
    const b = await runShardSimulation({ seed: 7, faultMs: 1000 });
    expect(b).toEqual(a);
  });
});
