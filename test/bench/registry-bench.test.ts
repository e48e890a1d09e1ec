import { describe, expect, it } from "vitest";
import { OptionsError } from "../../bench/kv/options.js";
import { parseRegistryBenchOptions } from "../../bench/registry/options.js";
import {
  type Plan,
  registrantInstances,
  registrantSlice,
  serviceName,
} from "../../bench/registry/plan.js";
import { percentile } from "../../bench/registry/scenario.js";

describe("registry bench options", () => {
  it("uses the full defaults, the quick ones, then environment and flags", () => {
    expect(parseRegistryBenchOptions([], {})).toMatchObject({
      rounds: 3,
      instances: 1000,
      services: 20,
      registrants: 10,
      ttlSeconds: 5,
      systems: ["etcd", "conclave"],
      build: true,
    });
    expect(parseRegistryBenchOptions(["--quick"], {})).toMatchObject({ rounds: 1, instances: 100 });
    expect(
      parseRegistryBenchOptions(["--instances", "300"], { REGISTRY_BENCH_INSTANCES: "200" })
        .instances,
    ).toBe(300);
    expect(parseRegistryBenchOptions([], { REGISTRY_BENCH_TTL_SECONDS: "7" }).ttlSeconds).toBe(7);
    expect(parseRegistryBenchOptions(["--only", "etcd", "--no-build"], {})).toMatchObject({
      systems: ["etcd"],
      build: false,
    });
  });

  it("refuses unknown flags and impossible settings with an OptionsError", () => {
    expect(() => parseRegistryBenchOptions(["--nope"], {})).toThrow(OptionsError);
    expect(() => parseRegistryBenchOptions(["--rounds", "0"], {})).toThrow(/--rounds/);
    expect(() => parseRegistryBenchOptions(["--ttl-seconds", "1"], {})).toThrow(/at least 2/);
    expect(() => parseRegistryBenchOptions(["--instances", "10", "--services", "11"], {})).toThrow(
      /--services/,
    );
    expect(() => parseRegistryBenchOptions(["--only", "consul"], {})).toThrow(/--only/);
  });
});

describe("registry bench plan", () => {
  const plan: Plan = { round: 2, instances: 103, services: 7, registrants: 10 };

  it("gives every instance to exactly one registrant, shares differing by at most one", () => {
    const sizes: number[] = [];
    let next = 0;
    for (let p = 0; p < plan.registrants; p++) {
      const { from, to } = registrantSlice(plan, p);
      expect(from).toBe(next);
      sizes.push(to - from);
      next = to;
    }
    expect(next).toBe(plan.instances);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it("names instances uniquely, spread over every service", () => {
    const all = Array.from({ length: plan.registrants }, (_, p) =>
      registrantInstances(plan, p),
    ).flat();
    expect(new Set(all.map((i) => i.addr)).size).toBe(plan.instances);
    expect(new Set(all.map((i) => i.id)).size).toBe(plan.instances);
    expect(new Set(all.map((i) => i.service))).toEqual(
      new Set(Array.from({ length: plan.services }, (_, s) => serviceName(s))),
    );
  });

  it("takes percentiles by rank", () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([5, 1, 3, 2, 4], 99)).toBe(5);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
  });
});
