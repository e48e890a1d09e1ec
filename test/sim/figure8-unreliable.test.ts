import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../../src/raft/core/prng.js";
import { Cluster } from "../../src/sim/cluster.js";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? "" : new TextDecoder().decode(b));

/**
 * The lab's "Figure 8 (unreliable)": on a lossy, reordering network, leaders
 * are crashed again and again right after appending, so old-term entries
 * linger on minorities. Safety is checked at every step by the simulator;
 * at the end every member must agree and a fresh write must commit. This is
 * a stress test; the 5.4.2 rule itself is pinned exactly by the Figure 8
 * scenario in test/raft/scenarios.test.ts.
 */
describe("Figure 8, unreliable network", () => {
  it.each(Array.from({ length: 12 }, (_, i) => i + 1))(
    "seed %i: leaders crash right after appending; logs still agree",
    async (seed) => {
      const rng = new Xoshiro128(seed * 7919);
      const c = new Cluster({
        seed,
        voters: [1, 2, 3, 4, 5],
        diskDelayMs: [0, 3],
        tornWrites: true,
        member: {
          heartbeatMs: 10,
          electionMs: 100,
          requestTimeoutMs: 1000,
          snapshotEveryEntries: 0,
          leaseCheckMs: 10,
          raft: { checkQuorum: true, preVote: true },
        },
      });
      c.network.faults = { lossRate: 0.1, duplicateRate: 0.05, latencyMs: 1, jitterMs: 40 };
      c.start();
      for (let round = 0; round < 60; round++) {
        const replica = c.leader()?.up?.replica;
        replica?.write({ type: "put", key: bytes("x"), value: bytes(`${round}`) }).catch(() => {});
        await c.runFor(rng.int(2) === 0 ? 5 + rng.int(20) : 100 + rng.int(300));
        const now = c.leader();
        if (now !== undefined && rng.int(2) === 0) c.crash(now.id);
        const down = [...c.members.values()].filter((m) => !m.alive);
        // Keep a majority up most of the time so progress is possible.
        if (down.length >= 3 || (down.length > 0 && rng.int(3) === 0))
          c.restart(down[rng.int(down.length)]!.id);
      }
      for (const m of c.members.values()) if (!m.alive) c.restart(m.id);
      c.network.faults = { lossRate: 0, duplicateRate: 0, latencyMs: 1, jitterMs: 2 };
      const led = await c.runUntil(() => c.leader() !== undefined, 10_000);
      expect(c.violation).toBeUndefined();
      expect(led).toBe(true);
      let written: number | undefined;
      c.leader()!
        .up!.replica.write({ type: "put", key: bytes("final"), value: bytes("v") })
        .then((r) => {
          written = r.revision;
        });
      const applied = () =>
        written !== undefined &&
        [...c.members.values()].every(
          (m) =>
            m.up !== undefined &&
            (m.up.store.range({ key: bytes("final") }).revision ?? 0) >= written!,
        );
      expect(await c.runUntil(applied, 10_000)).toBe(true);
      c.checkLogMatching();
      expect(c.violation).toBeUndefined();
      const values = [...c.members.values()].map((m) => {
        const store = m.up!.store;
        const x = store.range({ key: bytes("x") }).kvs[0];
        return `${text(x?.value)}@${x?.modRevision}|${text(store.range({ key: bytes("final") }).kvs[0]?.value)}`;
      });
      expect(new Set(values).size).toBe(1);
      expect(c.safety.appliedCount).toBeGreaterThan(5);
    },
  );
});
