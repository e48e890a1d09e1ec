/**
 * The consistency properties, checked with fast-check from a fixed seed over
 * random node sets, weights and change sequences.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  JumpHash,
  type Placement,
  RendezvousHash,
  restore,
  ringPosition,
  VirtualNodeRing,
} from "../../src/hashring/index.js";
import { build, FC_SEED, owners, STATELESS_ALGORITHMS, seededKeys } from "./helpers.js";

const KEYS = seededKeys(3000, 7);
const nodeId = fc.integer({ min: 0, max: 10_000 }).map((i) => `n${i}`);
const nodeSet = (min: number, max: number) =>
  fc.uniqueArray(fc.record({ id: nodeId, weight: fc.integer({ min: 1, max: 4 }) }), {
    minLength: min,
    maxLength: max,
    selector: (n) => n.id,
  });

/** The algorithms that promise minimal disruption, each built from weighted nodes. */
const MONOTONE: Record<string, (nodes: { id: string; weight: number }[]) => Placement> = {
  ring: (nodes) => {
    const ring = new VirtualNodeRing({ pointsPerNode: 100 });
    for (const n of nodes) ring.addNode(n.id, n.weight);
    return ring;
  },
  jump: (nodes) => {
    const jump = new JumpHash();
    for (const n of nodes) jump.addNode(n.id, n.weight);
    return jump;
  },
  rendezvous: (nodes) => {
    const hrw = new RendezvousHash();
    for (const n of nodes) hrw.addNode(n.id, n.weight);
    return hrw;
  },
};

describe.each(Object.keys(MONOTONE))("%s: minimal disruption", (name) => {
  const make = MONOTONE[name]!;

  it("adding a node moves keys only onto it", () => {
    fc.assert(
      fc.property(nodeSet(1, 12), fc.integer({ min: 1, max: 4 }), (nodes, weight) => {
        const placement = make(nodes);
        const before = owners(placement, KEYS);
        placement.addNode("added", weight);
        const after = owners(placement, KEYS);
        const moved = KEYS.filter((_, i) => after[i] !== before[i]);
        const elsewhere = KEYS.filter((_, i) => after[i] !== before[i] && after[i] !== "added");
        expect(elsewhere).toEqual([]);
        // The new node takes its share: some keys must move onto it.
        expect(moved.length).toBeGreaterThan(0);
      }),
      { seed: FC_SEED, numRuns: 40 },
    );
  });

  it("removing a node moves only its own keys", () => {
    fc.assert(
      fc.property(nodeSet(2, 12), fc.nat(), (nodes, pick) => {
        const placement = make(nodes);
        // Jump can only drop its last node; the others may drop any.
        const victim = name === "jump" ? nodes.at(-1)!.id : nodes[pick % nodes.length]!.id;
        const before = owners(placement, KEYS);
        placement.removeNode(victim);
        const after = owners(placement, KEYS);
        const wrong = KEYS.filter((_, i) =>
          before[i] === victim ? after[i] === victim : after[i] !== before[i],
        );
        expect(wrong).toEqual([]);
        expect(after).not.toContain(victim);
      }),
      { seed: FC_SEED, numRuns: 40 },
    );
  });
});

describe.each(STATELESS_ALGORITHMS)("%s: getN", (algorithm) => {
  it("returns n distinct nodes, owner first, in a stable order", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(nodeId, { minLength: 1, maxLength: 15 }),
        fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 20 }),
        (nodes, keys) => {
          const placement = build(algorithm, nodes);
          for (const key of keys) {
            const all = placement.getN(key, nodes.length);
            expect(new Set(all).size).toBe(nodes.length);
            expect(all[0]).toBe(placement.get(key));
            for (let n = 1; n < nodes.length; n++) {
              // Asking for fewer replicas gives a prefix of the longer answer.
              expect(placement.getN(key, n)).toEqual(all.slice(0, n));
            }
            expect(placement.getN(key, nodes.length)).toEqual(all);
          }
        },
      ),
      { seed: FC_SEED, numRuns: 40 },
    );
  });
});

type Change = { add: string; weight: number } | { remove: number };
const changes = fc.array(
  fc.oneof(
    fc.record({ add: nodeId, weight: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ remove: fc.nat() }),
  ),
  { minLength: 1, maxLength: 12 },
);

function apply(placement: Placement, list: Change[]): void {
  for (const change of list) {
    if ("add" in change) {
      if (!placement.hasNode(change.add)) placement.addNode(change.add, change.weight);
    } else if (placement.size > 1) {
      const ids = placement.nodes().map((n) => n.id);
      const victim =
        placement.algorithm === "jump" ? ids.at(-1)! : ids[change.remove % ids.length]!;
      placement.removeNode(victim);
    }
  }
}

describe.each(STATELESS_ALGORITHMS)("%s: restore(toJSON())", (algorithm) => {
  it("maps every key the same after any sequence of changes", () => {
    const keys = KEYS.slice(0, 500);
    fc.assert(
      fc.property(changes, (list) => {
        const placement = build(algorithm, ["seed-a", "seed-b"]);
        apply(placement, list);
        const fromObject = restore(placement.toJSON());
        const fromText = restore(JSON.stringify(placement));
        expect(fromObject.nodes()).toEqual(placement.nodes());
        const expected = owners(placement, keys);
        expect(owners(fromObject, keys)).toEqual(expected);
        expect(owners(fromText, keys)).toEqual(expected);
        const replicas = Math.min(3, placement.size);
        for (const key of keys.slice(0, 50)) {
          expect(fromText.getN(key, replicas)).toEqual(placement.getN(key, replicas));
        }
      }),
      { seed: FC_SEED, numRuns: 25 },
    );
  });
});

describe("the default ring", () => {
  it("finds the first point clockwise, as a linear scan of the circle does", () => {
    const ring = new VirtualNodeRing();
    for (const id of ["alpha", "beta", "gamma"]) ring.addNode(id);
    ring.addNode("delta", 2.5);
    const { positions, owners: pointOwners, ids } = ring.circle();
    expect(positions.length).toBe(4000 * 3 + 10000);
    for (const key of KEYS.slice(0, 300)) {
      const h = ringPosition(key);
      let at = positions.findIndex((p) => p >= h);
      if (at < 0) at = 0;
      expect(ring.get(key)).toBe(ids[pointOwners[at]!]);
    }
  });

  it("does not depend on the order nodes were added in", () => {
    const a = new VirtualNodeRing({ pointsPerNode: 300 });
    const b = new VirtualNodeRing({ pointsPerNode: 300 });
    const ids = ["x", "y", "z", "w", "v"];
    for (const id of ids) a.addNode(id);
    for (const id of [...ids].reverse()) b.addNode(id);
    expect(owners(a, KEYS)).toEqual(owners(b, KEYS));
  });

  it("gives a heavier node a proportionally larger share", () => {
    const ring = new VirtualNodeRing();
    ring.addNode("light", 1);
    ring.addNode("heavy", 3);
    const heavy = owners(ring, KEYS).filter((o) => o === "heavy").length / KEYS.length;
    expect(heavy).toBeGreaterThan(0.7);
    expect(heavy).toBeLessThan(0.8);
  });
});
