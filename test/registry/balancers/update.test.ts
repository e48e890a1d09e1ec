/** Balancers: incremental updates, what they move, weights, and following a snapshot stream. */
import { describe, expect, it } from "vitest";
import { createBalancer, followSnapshots } from "../../../src/registry/balancers/index.js";
import type { ServiceSnapshot } from "../../../src/registry/index.js";
import { counts, instance, instances, keys, pickId, SnapshotQueue } from "./helpers.js";

const N = 20;
/** Most a change may move, as a multiple of the least any placement must move. */
const MOVE_BOUND = { ring: 1.5, maglev: 2, bounded: 2.5 } as const;

describe("update", () => {
  it("reports what was added, removed and changed", () => {
    const balancer = createBalancer("round-robin", { instances: instances(3) });
    const report = balancer.update([
      instance("i-0", { port: 8000 }),
      instance("i-1", { port: 9999 }),
      instance("i-3"),
    ]);
    expect(report).toEqual({
      added: ["i-3"],
      removed: ["i-2"],
      changed: ["i-1"],
      movedFraction: null,
      idealFraction: 1 / 3,
    });
    expect(balancer.instances().find((i) => i.id === "i-1")!.port).toBe(9999);
    expect(balancer.update(balancer.instances())).toMatchObject({
      added: [],
      removed: [],
      changed: [],
      idealFraction: 0,
    });
  });

  it("keeps the in-flight count of an instance whose record changed", () => {
    const balancer = createBalancer("p2c", { instances: [instance("a")], seed: 1 });
    const held = balancer.pick();
    balancer.update([instance("a", { port: 9000 })]);
    expect(balancer.inFlight("a")).toBe(1);
    expect(balancer.pick().instance.port).toBe(9000);
    held.release();
    expect(balancer.inFlight("a")).toBe(1);
  });

  for (const kind of ["ring", "maglev", "bounded"] as const) {
    it(`${kind}: one of ${N} leaving or joining moves at most ${MOVE_BOUND[kind]}x the ideal`, () => {
      const all = instances(N + 1);
      const balancer = createBalancer(kind, { instances: all.slice(0, N) });
      const sample = keys(3000);
      const before = sample.map((key) => pickId(balancer, key));

      const join = balancer.update(all);
      expect(join.added).toEqual([`i-${N}`]);
      expect(join.idealFraction).toBeCloseTo(1 / (N + 1), 10);
      expect(join.movedFraction).toBeGreaterThan(0);
      expect(join.movedFraction!).toBeLessThanOrEqual(MOVE_BOUND[kind] * join.idealFraction);
      const afterJoin = sample.map((key) => pickId(balancer, key));
      if (kind === "ring") {
        // On a ring a join only takes keys onto the newcomer.
        for (const [i, owner] of afterJoin.entries()) {
          if (owner !== before[i]) expect(owner).toBe(`i-${N}`);
        }
      }

      const leave = balancer.update(all.filter((i) => i.id !== "i-3"));
      expect(leave.removed).toEqual(["i-3"]);
      expect(leave.idealFraction).toBeCloseTo(1 / (N + 1), 10);
      expect(leave.movedFraction!).toBeLessThanOrEqual(MOVE_BOUND[kind] * leave.idealFraction);
      const afterLeave = sample.map((key) => pickId(balancer, key));
      const moved = afterLeave.filter((owner, i) => owner !== afterJoin[i]).length / sample.length;
      expect(moved).toBeLessThanOrEqual(MOVE_BOUND[kind] * leave.idealFraction);
      if (kind === "ring") {
        // And a departure moves only the departed instance's keys.
        for (const [i, owner] of afterLeave.entries()) {
          if (owner !== afterJoin[i]) expect(afterJoin[i]).toBe("i-3");
        }
      }
    });
  }

  it("ring: reweighting one instance moves keys only onto or off it", () => {
    const balancer = createBalancer("ring", { instances: instances(8) });
    const sample = keys(3000);
    const before = sample.map((key) => pickId(balancer, key));
    const report = balancer.update(
      instances(8).map((i) => (i.id === "i-5" ? instance("i-5", { port: i.port, weight: 3 }) : i)),
    );
    expect(report.changed).toEqual(["i-5"]);
    expect(report.idealFraction).toBeCloseTo(3 / 10 - 1 / 8, 10);
    const after = sample.map((key) => pickId(balancer, key));
    for (const [i, owner] of after.entries()) {
      if (owner !== before[i]) expect(owner).toBe("i-5");
    }
    expect(report.movedFraction!).toBeLessThanOrEqual(1.5 * report.idealFraction);
  });

  for (const kind of ["ring", "maglev"] as const) {
    it(`${kind}: shares keys in proportion to weight`, () => {
      const balancer = createBalancer(kind, {
        instances: [instance("one"), instance("two", { weight: 2 }), instance("one-b")],
      });
      const spread = counts(keys(8000).map((key) => pickId(balancer, key)));
      expect(spread.get("two")! / 8000).toBeGreaterThan(0.42);
      expect(spread.get("two")! / 8000).toBeLessThan(0.58);
      expect(spread.get("one")! / 8000).toBeGreaterThan(0.17);
      expect(spread.get("one")! / 8000).toBeLessThan(0.33);
    });
  }

  it("probe measurement can be turned off", () => {
    const balancer = createBalancer("ring", { probeKeyCount: 0, instances: instances(3) });
    expect(balancer.update(instances(4)).movedFraction).toBeNull();
  });

  it("emptying and refilling the set: everything leaves, nothing to move on return", () => {
    for (const kind of ["ring", "maglev", "bounded"] as const) {
      const balancer = createBalancer(kind, { instances: instances(3) });
      const held = balancer.pick({ key: "k" });
      expect(balancer.update([])).toMatchObject({ movedFraction: 1, idealFraction: 1 });
      expect(balancer.update(instances(2))).toMatchObject({ movedFraction: 0, idealFraction: 0 });
      held.release();
      expect(pickId(balancer, "k")).toMatch(/^i-[01]$/);
    }
  });
});

describe("followSnapshots", () => {
  const snapshot = (revision: number, count: number): ServiceSnapshot => ({
    service: "api",
    revision,
    instances: instances(count),
  });

  it("applies every snapshot in order and stops when the stream ends", async () => {
    const balancer = createBalancer("round-robin");
    const queue = new SnapshotQueue<ServiceSnapshot>();
    const revisions: number[] = [];
    const following = followSnapshots(balancer, queue, undefined, {
      onUpdate: (_report, s) => revisions.push(s.revision),
    });
    queue.push(snapshot(5, 1));
    queue.push(snapshot(6, 3));
    queue.push(snapshot(9, 2));
    queue.end();
    await following;
    expect(revisions).toEqual([5, 6, 9]);
    expect(balancer.instances().map((i) => i.id)).toEqual(["i-0", "i-1"]);
  });

  it("stops on abort and closes the stream", async () => {
    const balancer = createBalancer("maglev");
    const queue = new SnapshotQueue<ServiceSnapshot>();
    const controller = new AbortController();
    const applied: number[] = [];
    const following = followSnapshots(balancer, queue, controller.signal, {
      onUpdate: (_r, s) => applied.push(s.revision),
    });
    queue.push(snapshot(1, 4));
    await expect.poll(() => applied.length).toBe(1);
    controller.abort();
    await following;
    expect(queue.closed).toBe(true);
    queue.push(snapshot(2, 1));
    expect(balancer.size).toBe(4);
  });

  it("rejects when the stream fails", async () => {
    const failing: AsyncIterable<ServiceSnapshot> = {
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error("watch broke")) }),
    };
    await expect(followSnapshots(createBalancer("p2c"), failing)).rejects.toThrow("watch broke");
  });
});
