/**
 * Migration plans: the arcs a ring change moves must be exactly the keys
 * whose owner changed, and a failed node's data must go to the next node.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  EmptyRingError,
  findArc,
  IncompatiblePlacementsError,
  JumpHash,
  KetamaRing,
  MaglevHash,
  planArcMigration,
  planKeyMigration,
  restore,
  VirtualNodeRing,
} from "../../src/hashring/index.js";
import { FC_SEED, nodeNames, seededKeys } from "./helpers.js";

const KEYS = seededKeys(4000, 31);
type Ring = VirtualNodeRing | KetamaRing;

function makeRing(kind: "ring" | "ketama", nodes: { id: string; weight: number }[]): Ring {
  const ring = kind === "ring" ? new VirtualNodeRing({ pointsPerNode: 60 }) : new KetamaRing();
  for (const n of nodes) ring.addNode(n.id, n.weight);
  return ring;
}

/** Every key's owner change is covered by exactly the arc that names it, and nothing else is. */
function expectArcsExplainKeys(before: Ring, after: Ring): void {
  const arcs = planArcMigration(before, after);
  for (let i = 1; i < arcs.length; i++) expect(arcs[i]!.first).toBeGreaterThan(arcs[i - 1]!.last);
  const wrong: string[] = [];
  for (const key of KEYS) {
    const from = before.get(key);
    const to = after.get(key);
    const arc = findArc(arcs, before.positionOf(key));
    if (from === to ? arc !== undefined : arc?.from !== from || arc?.to !== to) wrong.push(key);
  }
  expect(wrong).toEqual([]);
}

describe.each(["ring", "ketama"] as const)("%s: arc migration plans", (kind) => {
  const nodes = fc.uniqueArray(
    fc.record({
      id: fc.integer({ min: 0, max: 999 }).map((i) => `10.0.0.${i}:11211`),
      weight: fc.integer({ min: 1, max: 3 }),
    }),
    { minLength: 2, maxLength: 8, selector: (n) => n.id },
  );

  it("match the per-key diff for an added node", () => {
    fc.assert(
      fc.property(nodes, fc.integer({ min: 1, max: 3 }), (list, weight) => {
        const before = makeRing(kind, list);
        const after = makeRing(kind, [...list, { id: "joined", weight }]);
        expectArcsExplainKeys(before, after);
      }),
      { seed: FC_SEED, numRuns: 15 },
    );
  });

  it("match the per-key diff for a removed node and a changed weight", () => {
    fc.assert(
      fc.property(nodes, fc.nat(), (list, pick) => {
        const before = makeRing(kind, list);
        const victim = list[pick % list.length]!;
        expectArcsExplainKeys(
          before,
          makeRing(
            kind,
            list.filter((n) => n !== victim),
          ),
        );
        const reweighted = list.map((n) => (n === victim ? { id: n.id, weight: n.weight + 1 } : n));
        expectArcsExplainKeys(before, makeRing(kind, reweighted));
      }),
      { seed: FC_SEED, numRuns: 15 },
    );
  });
});

describe("a failed node's data moves to the next node, and nothing else moves", () => {
  it("every arc leaves the failed node for the next surviving node clockwise", () => {
    const before = new VirtualNodeRing({ pointsPerNode: 100 });
    for (const id of nodeNames(6)) before.addNode(id);
    const after = restore(before.toJSON()) as VirtualNodeRing;
    after.removeNode("node-3");
    const arcs = planArcMigration(before, after);
    expect(arcs.length).toBeGreaterThan(0);
    const { positions, owners, ids } = before.circle();
    let covered = 0;
    for (const arc of arcs) {
      expect(arc.from).toBe("node-3");
      // The next point after the arc on the old circle belongs to the heir.
      const next = positions.findIndex((p) => p > arc.last);
      const heir = ids[owners[Math.max(next, 0)]!];
      expect(arc.to).toBe(heir);
      covered += arc.last - arc.first + 1;
    }
    // The arcs cover exactly the failed node's share of the circle.
    let owned = 0;
    for (let i = 0; i < positions.length; i++) {
      if (ids[owners[i]!] !== "node-3") continue;
      const previous = i === 0 ? positions[positions.length - 1]! - 2 ** 32 : positions[i - 1]!;
      owned += positions[i]! - previous;
    }
    expect(covered).toBe(owned);
    expectArcsExplainKeys(before, after);
  });

  it("an unchanged ring needs no migration; an empty start needs none either", () => {
    const ring = new VirtualNodeRing({ pointsPerNode: 50 });
    for (const id of nodeNames(3)) ring.addNode(id);
    expect(planArcMigration(ring, restore(ring.toJSON()) as VirtualNodeRing)).toEqual([]);
    expect(planArcMigration(new VirtualNodeRing(), ring)).toEqual([]);
  });

  it("refuses to plan onto an empty ring or across ring kinds", () => {
    const ring = new VirtualNodeRing({ pointsPerNode: 50 });
    ring.addNode("a");
    const ketama = new KetamaRing();
    ketama.addNode("a");
    expect(() => planArcMigration(ring, new VirtualNodeRing())).toThrow(EmptyRingError);
    expect(() => planArcMigration(ring, ketama)).toThrow(IncompatiblePlacementsError);
    expect(() => planArcMigration(ring, ketama)).toThrow(/ring circle with a ketama circle/);
  });
});

describe("key migration plans (any algorithm)", () => {
  it("list exactly the keys whose owner changed, with both owners", () => {
    const before = new MaglevHash({ tableSize: 1009 });
    for (const id of nodeNames(5)) before.addNode(id);
    const after = restore(before.toJSON());
    after.addNode("extra");
    const plan = planKeyMigration(before, after, KEYS);
    const expected = KEYS.filter((k) => before.get(k) !== after.get(k));
    expect(plan.map((c) => c.key)).toEqual(expected);
    for (const change of plan) {
      expect(change.from).toBe(before.get(change.key));
      expect(change.to).toBe(after.get(change.key));
    }
    expect(plan.length).toBeGreaterThan(0);
  });

  it("for jump, growing moves keys only onto the new node", () => {
    const before = new JumpHash();
    for (const id of nodeNames(7)) before.addNode(id);
    const after = restore(before.toJSON());
    after.addNode("node-7");
    const plan = planKeyMigration(before, after, KEYS);
    expect(plan.length).toBeGreaterThan(0);
    expect(plan.every((c) => c.to === "node-7")).toBe(true);
  });
});
