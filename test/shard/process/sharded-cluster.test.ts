import { describe, expect, it } from "vitest";
import { runRealShardScenario } from "../../../bench/shards/real-cluster.js";

describe("sharded tier: real processes", () => {
  it("5 nodes, 64 shards under load: kill -9 of the controller's node re-replicates every shard by itself, a joining node takes its share, no acknowledged write is lost", async () => {
    const lines: string[] = [];
    const result = await runRealShardScenario({
      nodes: 5,
      shards: 64,
      writers: 8,
      failureTimeoutMs: 3000,
      maxMoving: 16,
      warmupMs: 3000,
      settleTimeoutMs: 120_000,
      log: (line) => lines.push(line),
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${lines.join("\n")}`);
    });
    expect(result.writes.acknowledged).toBeGreaterThan(100);
    expect(result.lostWrites).toBe(0);
    // The killed node held replicas: they were re-created on the others.
    expect(result.kill.replicasLost).toBeGreaterThan(0);
    expect(result.fullyReplicated).toBe(true);
    // The new node received about its fair share, and little else moved.
    expect(result.join.replicasMoved).toBeGreaterThan(0);
    expect(result.join.movedOverIdeal).toBeLessThanOrEqual(1.1);
  }, 600_000);
});
