/**
 * Bounded loads: no node ever holds more than ceil((1 + eps) * m / n) keys,
 * checked after every operation, on adversarial keys that all hash into one
 * tiny arc of the circle, and every change reports exactly the keys it moved.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BoundedLoadPlacement,
  type HashKey,
  restoreBoundedLoads,
  ringPosition,
  VirtualNodeRing,
} from "../../src/hashring/index.js";
import { FC_SEED, keyAtPosition, nodeNames, seededKeys } from "./helpers.js";

const ARC_START = 0x7a000000;
/** 4000 keys whose positions all lie within 4000 consecutive values of the circle. */
const CLUSTERED = Array.from({ length: 4000 }, (_, i) => keyAtPosition(ARC_START + i));

/** Keys compared by their bytes: moves report UTF-8-valid byte keys as strings. */
function hex(key: HashKey): string {
  return (typeof key === "string" ? Buffer.from(key, "utf8") : Buffer.from(key)).toString("hex");
}

/** The bound from the specification, computed independently of the library. */
function expectWithinBound(placement: BoundedLoadPlacement, eps: number): void {
  const loads = [...placement.loads().values()];
  const total = loads.reduce((a, b) => a + b, 0);
  expect(total).toBe(placement.keyCount);
  if (total === 0) return;
  const bound = Math.ceil((1 + eps) * (total / loads.length));
  expect(Math.max(...loads)).toBeLessThanOrEqual(bound);
}

function snapshot(placement: BoundedLoadPlacement, keys: readonly HashKey[]): Map<string, string> {
  const where = new Map<string, string>();
  for (const key of keys) if (placement.has(key)) where.set(hex(key), placement.get(key));
  return where;
}

/** The reported moves must be exactly the keys whose node changed. */
function expectMovesMatch(
  before: Map<string, string>,
  after: Map<string, string>,
  moves: readonly { key: HashKey; from: string | null; to: string | null }[],
): void {
  const actual = [...after]
    .filter(([key, node]) => before.has(key) && before.get(key) !== node)
    .map(([key, node]) => `${key}:${before.get(key)}->${node}`)
    .sort();
  const reported = moves.map((m) => `${hex(m.key)}:${m.from}->${m.to}`).sort();
  expect(reported).toEqual(actual);
}

describe("keyAtPosition (test helper)", () => {
  it("builds keys that hash exactly where asked", () => {
    for (const p of [0, 1, ARC_START, 0xffffffff, 123456789]) {
      expect(ringPosition(keyAtPosition(p))).toBe(p);
    }
  });
});

describe("bounded loads on adversarial keys", () => {
  it("without the bound, one node would take every clustered key", () => {
    const ring = new VirtualNodeRing({ pointsPerNode: 100 });
    for (const id of nodeNames(10)) ring.addNode(id);
    expect(new Set(CLUSTERED.map((k) => ring.get(k))).size).toBe(1);
  });

  it.each([0.05, 0.25, 1])("eps = %s: the bound holds after every placement", (eps) => {
    const placement = new BoundedLoadPlacement({ eps, pointsPerNode: 100 });
    for (const id of nodeNames(10)) placement.addNode(id);
    for (const key of CLUSTERED) {
      placement.place(key);
      const m = placement.keyCount;
      const cap = Math.ceil((1 + eps) * (m / 10));
      for (const load of placement.loads().values()) expect(load).toBeLessThanOrEqual(cap);
    }
    expectWithinBound(placement, eps);
    // The cluster's home node is full to its capacity, not beyond.
    expect(Math.max(...placement.loads().values())).toBe(Math.ceil((1 + eps) * 400));
  });

  it("the bound and the move reports hold through random places, releases, joins and leaves", () => {
    const op = fc.oneof(
      { weight: 6, arbitrary: fc.record({ place: fc.nat({ max: CLUSTERED.length - 1 }) }) },
      { weight: 3, arbitrary: fc.record({ release: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ join: fc.integer({ min: 1, max: 3 }) }) },
      { weight: 1, arbitrary: fc.record({ leave: fc.nat() }) },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(0.1, 0.25, 0.5),
        fc.array(op, { minLength: 20, maxLength: 400 }),
        (eps, ops) => {
          const placement = new BoundedLoadPlacement({ eps, pointsPerNode: 50 });
          for (const id of nodeNames(4)) placement.addNode(id);
          let joined = 0;
          const placed: Uint8Array[] = [];
          for (const step of ops) {
            const before = snapshot(placement, placed);
            let moves: { key: HashKey; from: string | null; to: string | null }[] = [];
            if ("place" in step) {
              const key = CLUSTERED[step.place]!;
              if (!placement.has(key)) placed.push(key);
              placement.place(key);
            } else if ("release" in step) {
              if (placed.length === 0) continue;
              const [key] = placed.splice(step.release % placed.length, 1);
              moves = placement.release(key!);
              before.delete(hex(key!));
            } else if ("join" in step) {
              moves = placement.addNode(`joined-${joined++}`, step.join);
            } else {
              if (placement.size === 1) continue;
              const ids = placement.nodes().map((n) => n.id);
              moves = placement.removeNode(ids[step.leave % ids.length]!);
            }
            expectMovesMatch(before, snapshot(placement, placed), moves);
            const loads = placement.loads();
            const m = placement.keyCount;
            const totalWeight = placement.nodes().reduce((s, n) => s + n.weight, 0);
            for (const { id, weight } of placement.nodes()) {
              expect(loads.get(id)!).toBeLessThanOrEqual(
                Math.ceil(((1 + eps) * m * weight) / totalWeight),
              );
            }
          }
          expect(placement.keyCount).toBe(placed.length);
        },
      ),
      { seed: FC_SEED, numRuns: 30 },
    );
  });
});

describe("bounded loads behaviour", () => {
  it("with room to spare every key stays on its ring owner", () => {
    const ring = new VirtualNodeRing({ pointsPerNode: 200 });
    const placement = new BoundedLoadPlacement({ eps: 10, pointsPerNode: 200 });
    for (const id of nodeNames(6)) {
      ring.addNode(id);
      placement.addNode(id);
    }
    const keys = seededKeys(3000, 1);
    for (const key of keys) expect(placement.place(key)).toBe(ring.get(key));
  });

  it("releasing keys lowers the capacity and a full node hands its oldest keys on", () => {
    const eps = 0.25;
    const placement = new BoundedLoadPlacement({ eps, pointsPerNode: 100 });
    for (const id of nodeNames(4)) placement.addNode(id);
    const spread = seededKeys(400, 11);
    for (const key of spread) placement.place(key);
    for (const key of CLUSTERED.slice(0, 400)) placement.place(key);
    const home = placement.get(CLUSTERED[0]!);
    expect(placement.loads().get(home)).toBe(placement.capacityOf(home));
    // Releasing keys held elsewhere shrinks m, and with it the home node's capacity.
    const elsewhere = spread.filter((k) => placement.get(k) !== home);
    const before = snapshot(placement, [...spread, ...CLUSTERED.slice(0, 400)]);
    const moves = elsewhere.slice(0, 40).flatMap((key) => placement.release(key));
    expect(moves.length).toBeGreaterThan(0);
    expect(moves.every((m) => m.from === home && m.to !== home)).toBe(true);
    // Oldest first: the keys handed on are the first keys the home node received.
    const homeKeysInOrder = [...spread, ...CLUSTERED.slice(0, 400)].filter(
      (k) => before.get(hex(k)) === home,
    );
    expect(moves.map((m) => hex(m.key))).toEqual(homeKeysInOrder.slice(0, moves.length).map(hex));
    expectWithinBound(placement, eps);
  });

  it("placing is idempotent and a string equals its UTF-8 bytes", () => {
    const placement = new BoundedLoadPlacement();
    placement.addNode("a");
    placement.addNode("b");
    const node = placement.place("κλειδί");
    expect(placement.place(new TextEncoder().encode("κλειδί"))).toBe(node);
    expect(placement.keyCount).toBe(1);
    expect(placement.get("κλειδί")).toBe(node);
  });

  it("a new node takes the keys that meet it first, like a plain ring, and nothing else", () => {
    const placement = new BoundedLoadPlacement({ eps: 0.5, pointsPerNode: 100 });
    for (const id of nodeNames(5)) placement.addNode(id);
    const keys = seededKeys(5000, 3);
    for (const key of keys) placement.place(key);
    const moves = placement.addNode("newcomer");
    expect(moves.length).toBeGreaterThan(0);
    expect(moves.every((m) => m.to === "newcomer")).toBe(true);
    // Roughly its share of the keys: 1/6 of 5000, well inside the bound.
    expect(moves.length).toBeGreaterThan(500);
    expect(moves.length).toBeLessThan(1200);
  });

  it("removing a node moves its keys and nothing else when capacities only grow", () => {
    const placement = new BoundedLoadPlacement({ eps: 0.25, pointsPerNode: 100 });
    for (const id of nodeNames(5)) placement.addNode(id);
    const keys = seededKeys(4000, 4);
    for (const key of keys) placement.place(key);
    const victimLoad = placement.loads().get("node-2")!;
    const moves = placement.removeNode("node-2");
    expect(moves.length).toBe(victimLoad);
    expect(moves.every((m) => m.from === "node-2" && m.to !== "node-2")).toBe(true);
    expectWithinBound(placement, 0.25);
  });

  it("gives a node of weight 2 twice the capacity", () => {
    const placement = new BoundedLoadPlacement({ eps: 0.2, pointsPerNode: 100 });
    placement.addNode("one", 1);
    placement.addNode("two", 2);
    for (const key of CLUSTERED.slice(0, 3000)) placement.place(key);
    expect(placement.capacityOf("one")).toBe(Math.ceil((1.2 * 3000 * 1) / 3));
    expect(placement.capacityOf("two")).toBe(Math.ceil((1.2 * 3000 * 2) / 3));
    expect(placement.loads().get("two")!).toBeLessThanOrEqual(placement.capacityOf("two"));
    expect(placement.loads().get("one")!).toBeLessThanOrEqual(placement.capacityOf("one"));
  });

  it("fractional weights added and removed give the same capacities as a fresh restore", () => {
    const placement = new BoundedLoadPlacement({ eps: 0.5, pointsPerNode: 40 });
    placement.addNode("a", 0.1);
    placement.addNode("b", 0.2);
    placement.addNode("c", 0.7);
    for (const key of seededKeys(1000, 12)) placement.place(key);
    placement.removeNode("a");
    placement.addNode("d", 0.3);
    const copy = restoreBoundedLoads(placement.toJSON());
    for (const id of ["b", "c", "d"]) expect(copy.capacityOf(id)).toBe(placement.capacityOf(id));
    const more = seededKeys(500, 13);
    expect(more.map((k) => copy.place(k))).toEqual(more.map((k) => placement.place(k)));
  });

  it("restore(toJSON()) reproduces every placement and then evolves identically", () => {
    const placement = new BoundedLoadPlacement({ eps: 0.3, pointsPerNode: 80 });
    for (const id of nodeNames(4)) placement.addNode(id, 1);
    const keys: HashKey[] = [
      ...CLUSTERED.slice(0, 800),
      ...seededKeys(800, 9),
      new Uint8Array([0xff, 0xfe]),
    ];
    for (const key of keys) placement.place(key);
    for (const key of keys.slice(0, 300)) placement.release(key);
    const copy = restoreBoundedLoads(JSON.stringify(placement));
    expect(snapshot(copy, keys)).toEqual(snapshot(placement, keys));
    expect(copy.toJSON()).toEqual(placement.toJSON());
    expect(copy.addNode("later")).toEqual(placement.addNode("later"));
    for (const key of keys.slice(300, 600))
      expect(copy.release(key)).toEqual(placement.release(key));
    expect(copy.removeNode("node-1")).toEqual(placement.removeNode("node-1"));
    expect(snapshot(copy, keys)).toEqual(snapshot(placement, keys));
  });
});
