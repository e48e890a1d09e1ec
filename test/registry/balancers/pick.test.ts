/** Balancers: who gets picked — cycles, load, key stickiness, exclusions, served-only. */
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../../src/errors.js";
import {
  type Balancer,
  type BoundedBalancer,
  createBalancer,
  type Picked,
} from "../../../src/registry/balancers/index.js";
import { NoInstanceError } from "../../../src/registry/index.js";
import { counts, instance, instances, keys, pickId } from "./helpers.js";

const HASH_KINDS = ["ring", "maglev", "bounded"] as const;
const ALL_KINDS = ["round-robin", "p2c", ...HASH_KINDS] as const;

describe("round robin", () => {
  it("cycles through equal instances in order", () => {
    const balancer = createBalancer("round-robin", { instances: instances(3) });
    const picks = Array.from({ length: 9 }, () => pickId(balancer));
    expect(picks).toEqual(["i-0", "i-1", "i-2", "i-0", "i-1", "i-2", "i-0", "i-1", "i-2"]);
  });

  it("spreads weighted turns smoothly: 5:1:1 gives a a b a c a a", () => {
    const balancer = createBalancer("round-robin", {
      instances: [instance("a", { weight: 5 }), instance("b"), instance("c")],
    });
    const picks = Array.from({ length: 14 }, () => pickId(balancer));
    expect(picks.slice(0, 7)).toEqual(["a", "a", "b", "a", "c", "a", "a"]);
    expect(picks.slice(7)).toEqual(picks.slice(0, 7));
  });

  it("skips excluded instances and keeps the cycle for the rest", () => {
    const balancer = createBalancer("round-robin", { instances: instances(3) });
    const picks = Array.from({ length: 4 }, () => pickId(balancer, undefined, ["i-1"]));
    expect(picks).toEqual(["i-0", "i-2", "i-0", "i-2"]);
  });

  it("keeps its place across an update that does not touch the cycle's members", () => {
    const balancer = createBalancer("round-robin", { instances: instances(3) });
    expect(pickId(balancer)).toBe("i-0");
    balancer.update([...instances(3), instance("late")]);
    expect(Array.from({ length: 4 }, () => pickId(balancer))).toEqual([
      "i-1",
      "i-2",
      "late",
      "i-0",
    ]);
  });
});

describe("power of two choices", () => {
  it("avoids an instance with more requests in flight", () => {
    const balancer = createBalancer("p2c", { instances: instances(3), seed: 7 });
    const held: Picked[] = [];
    for (let i = 0; i < 20; i++) held.push(balancer.pick({ exclude: ["i-1", "i-2"] }));
    expect(balancer.inFlight("i-0")).toBe(20);
    const picks = counts(Array.from({ length: 300 }, () => pickId(balancer)));
    // Two distinct candidates are compared: the loaded one loses every time.
    expect(picks.get("i-0")).toBeUndefined();
    expect(picks.get("i-1")).toBeGreaterThan(100);
    expect(picks.get("i-2")).toBeGreaterThan(100);
    for (const pick of held) pick.done();
    expect(balancer.inFlight("i-0")).toBe(0);
  });

  it("keeps requests in flight even, and in proportion to weight", () => {
    const balancer = createBalancer("p2c", {
      instances: [
        instance("light"),
        instance("heavy", { weight: 3 }),
        instance("mid", { weight: 2 }),
      ],
      seed: 11,
    });
    for (let i = 0; i < 600; i++) balancer.pick();
    expect(balancer.inFlight("light")).toBeGreaterThanOrEqual(95);
    expect(balancer.inFlight("light")).toBeLessThanOrEqual(105);
    expect(balancer.inFlight("mid")).toBeGreaterThanOrEqual(190);
    expect(balancer.inFlight("mid")).toBeLessThanOrEqual(210);
    expect(balancer.inFlight("heavy")).toBeGreaterThanOrEqual(290);
  });

  it("replays exactly from its seed", () => {
    const run = (seed: number) => {
      const balancer = createBalancer("p2c", { instances: instances(5), seed });
      return Array.from({ length: 50 }, () => balancer.pick().instance.id);
    };
    expect(run(3)).toEqual(run(3));
    expect(run(3)).not.toEqual(run(4));
  });
});

describe("hash kinds", () => {
  for (const kind of HASH_KINDS) {
    it(`${kind}: a key sticks to one instance, and keys spread over all of them`, () => {
      const balancer = createBalancer(kind, { instances: instances(5) });
      const owners = keys(2000).map((key) => pickId(balancer, key));
      for (const [i, key] of keys(2000).entries()) expect(pickId(balancer, key)).toBe(owners[i]);
      const spread = counts(owners);
      expect(spread.size).toBe(5);
      for (const n of spread.values()) {
        expect(n).toBeGreaterThan(2000 / 5 / 1.6);
        expect(n).toBeLessThan((2000 / 5) * 1.6);
      }
    });

    it(`${kind}: exclude walks to the key's next distinct owners, then runs out`, () => {
      const balancer = createBalancer(kind, { instances: instances(4) });
      for (const key of keys(50)) {
        const tried: string[] = [];
        for (let attempt = 0; attempt < 4; attempt++) {
          const id = pickId(balancer, key, tried);
          expect(tried).not.toContain(id);
          // The same retry sequence every time for the same key.
          expect(pickId(balancer, key, tried)).toBe(id);
          tried.push(id);
        }
        expect(() => balancer.pick({ key, exclude: tried })).toThrow(NoInstanceError);
      }
    });

    it(`${kind}: refuses a pick without a key`, () => {
      const balancer = createBalancer(kind, { instances: instances(2) });
      expect(() => balancer.pick()).toThrow(InvalidArgumentError);
    });
  }

  it("ring and maglev: a key's next owner is its first replica on the placement", () => {
    const ring = createBalancer("ring", { instances: instances(6) });
    const maglev = createBalancer("maglev", { instances: instances(6) });
    for (const balancer of [ring, maglev]) {
      const seconds = new Set<string>();
      for (const key of keys(300)) {
        const owner = pickId(balancer, key);
        const next = pickId(balancer, key, [owner]);
        expect(next).not.toBe(owner);
        seconds.add(`${owner}>${next}`);
      }
      // Replicas depend on the key, not only on the owner.
      expect(seconds.size).toBeGreaterThan(6);
    }
  });

  it("bounded: no instance holds more than (1 + eps) x its share of the keys in flight", () => {
    const balancer = createBalancer("bounded", {
      instances: [instance("a"), instance("b"), instance("c", { weight: 2 })],
      eps: 0.1,
    }) as BoundedBalancer;
    const held = keys(400).map((key) => balancer.pick({ key }));
    const loads = balancer.keyLoads();
    expect(loads.get("a")).toBeLessThanOrEqual(Math.ceil((1.1 * 400 * 1) / 4));
    expect(loads.get("b")).toBeLessThanOrEqual(Math.ceil((1.1 * 400 * 1) / 4));
    expect(loads.get("c")).toBeLessThanOrEqual(Math.ceil((1.1 * 400 * 2) / 4));
    expect(balancer.inFlight("a") + balancer.inFlight("b") + balancer.inFlight("c")).toBe(400);
    for (const pick of held) pick.release();
    expect([...balancer.keyLoads().values()]).toEqual([0, 0, 0]);
  });

  it("bounded: a hot key's requests count once and all go to one instance", () => {
    const balancer = createBalancer("bounded", { instances: instances(3) }) as BoundedBalancer;
    const held = Array.from({ length: 50 }, () => balancer.pick({ key: "hot" }));
    expect(new Set(held.map((p) => p.instance.id)).size).toBe(1);
    expect([...balancer.keyLoads().values()].reduce((a, b) => a + b)).toBe(1);
    const owner = held[0]!.instance.id;
    expect(balancer.inFlight(owner)).toBe(50);
    for (const pick of held.slice(1)) pick.release();
    expect([...balancer.keyLoads().values()].reduce((a, b) => a + b)).toBe(1);
    held[0]!.release();
    expect([...balancer.keyLoads().values()].reduce((a, b) => a + b)).toBe(0);
  });
});

describe("every kind", () => {
  for (const kind of ALL_KINDS) {
    const pickAny = (b: Balancer, i: number) => pickId(b, `k${i}`);

    it(`${kind}: picks only served instances (passing or warning, never critical)`, () => {
      const balancer = createBalancer(kind, {
        seed: 1,
        instances: [
          instance("up"),
          instance("flaky", { status: "warning" }),
          instance("down", { status: "critical" }),
        ],
      });
      expect(balancer.size).toBe(2);
      const seen = counts(Array.from({ length: 200 }, (_, i) => pickAny(balancer, i)));
      expect([...seen.keys()].sort()).toEqual(["flaky", "up"]);
      const report = balancer.update([
        instance("up", { status: "critical" }),
        instance("flaky", { status: "warning" }),
        instance("down"),
      ]);
      expect(report.removed).toEqual(["up"]);
      expect(report.added).toEqual(["down"]);
      const after = counts(Array.from({ length: 200 }, (_, i) => pickAny(balancer, i)));
      expect([...after.keys()].sort()).toEqual(["down", "flaky"]);
    });

    it(`${kind}: an empty set raises NoInstanceError naming the service`, () => {
      const balancer = createBalancer(kind, { service: "billing" });
      const error = (() => {
        try {
          balancer.pick({ key: "k" });
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(NoInstanceError);
      expect((error as NoInstanceError).code).toBe("REGISTRY_NO_INSTANCE");
      expect((error as NoInstanceError).service).toBe("billing");
      balancer.update([instance("x", { status: "critical" })]);
      expect(() => balancer.pick({ key: "k" })).toThrow(NoInstanceError);
      balancer.update([instance("x")]);
      expect(pickId(balancer, "k")).toBe("x");
      balancer.update([]);
      expect(() => balancer.pick({ key: "k" })).toThrow(NoInstanceError);
    });

    it(`${kind}: counts a pick in flight until released, once, by any of its names`, () => {
      const balancer = createBalancer(kind, { instances: [instance("only")] });
      const a = balancer.pick({ key: "k" });
      const b = balancer.pick({ key: "k" });
      {
        using _c = balancer.pick({ key: "k" });
        expect(balancer.inFlight("only")).toBe(3);
      }
      a.release();
      a.release();
      a.done();
      expect(balancer.inFlight("only")).toBe(1);
      b.done();
      expect(balancer.inFlight("only")).toBe(0);
    });
  }

  it("rejects bad options with InvalidArgumentError", () => {
    expect(() => createBalancer("random" as "p2c")).toThrow(/balancer kind must be one of/);
    expect(() => createBalancer("ring", { pointsPerNode: 0 })).toThrow(InvalidArgumentError);
    expect(() => createBalancer("ring", { pointsPerNode: 1000 })).toThrow(/pointsPerNode/);
    expect(() => createBalancer("maglev", { tableSize: 1000 })).toThrow(/prime/);
    expect(() => createBalancer("bounded", { eps: 0 })).toThrow(/eps/);
    expect(() => createBalancer("p2c", { seed: 1.5 })).toThrow(/seed/);
    expect(() => createBalancer("maglev", { tableSize: 2 }).update(instances(3))).toThrow(
      /cannot hold 3/,
    );
    const balancer = createBalancer("round-robin");
    expect(() => balancer.update([instance("a"), instance("a")])).toThrow(/appears twice/);
  });
});
