import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../../src/raft/core/prng.js";
import { Cluster } from "../../src/sim/cluster.js";
import { encodeCommand } from "../../src/sim/kv.js";

/**
 * The lab's "Figure 8 (unreliable)": on a lossy, reordering network, leaders
 * are crashed again and again right after appending, so old-term entries
 * linger on minorities. Safety is checked at every step by the simulator;
 * at the end every node must agree and a fresh proposal must commit. This is
 * a stress test; the 5.4.2 rule itself is pinned exactly by the Figure 8
 * scenario in test/raft/scenarios.test.ts.
 */
describe("Figure 8, unreliable network", () => {
  it.each(Array.from({ length: 20 }, (_, i) => i + 1))(
    "seed %i: leaders crash right after appending; logs still agree",
    (seed) => {
      const rng = new Xoshiro128(seed * 7919);
      const c = new Cluster({
        seed,
        voters: [1, 2, 3, 4, 5],
        diskDelayMs: [0, 3],
        tornWrites: true,
      });
      c.network.faults = { lossRate: 0.1, duplicateRate: 0.05, latencyMs: 1, jitterMs: 40 };
      c.start();
      let seq = 0;
      for (let round = 0; round < 60; round++) {
        const leader = c.leader();
        if (leader?.raw !== undefined) {
          try {
            leader.raw.propose(
              encodeCommand({
                client: 1,
                seq: ++seq,
                input: { op: "put", key: "x", value: `${seq}` },
              }),
            );
            leader.pump();
          } catch {
            // not leader any more: fine
          }
        }
        c.runFor(rng.int(2) === 0 ? 5 + rng.int(20) : 100 + rng.int(300));
        const now = c.leader();
        if (now !== undefined && rng.int(2) === 0) c.crash(now.id);
        const down = [...c.nodes.values()].filter((n) => !n.alive);
        // Keep a majority up most of the time so progress is possible.
        if (down.length >= 3 || (down.length > 0 && rng.int(3) === 0))
          c.restart(down[rng.int(down.length)]!.id);
      }
      for (const n of c.nodes.values()) if (!n.alive) c.restart(n.id);
      c.network.faults = { lossRate: 0, duplicateRate: 0, latencyMs: 1, jitterMs: 2 };
      expect(c.runUntil(() => c.leader() !== undefined, 10_000)).toBe(true);
      const leader = c.leader()!;
      const pos = leader.raw!.propose(
        encodeCommand({ client: 2, seq: 1, input: { op: "put", key: "final", value: "v" } }),
      );
      leader.pump();
      const done = c.runUntil(
        () => [...c.nodes.values()].every((n) => n.kv.appliedIndex >= pos!.index),
        10_000,
      );
      expect(done).toBe(true);
      c.checkLogMatching();
      const values = [...c.nodes.values()].map((n) => `${n.kv.get("x")}|${n.kv.get("final")}`);
      expect(new Set(values).size).toBe(1);
      expect(c.safety.appliedCount).toBeGreaterThan(5);
    },
  );
});
