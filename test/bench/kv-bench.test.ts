import { describe, expect, it } from "vitest";
import { percentile, runLoad } from "../../bench/kv/load.js";
import { OptionsError, parseKvBenchOptions } from "../../bench/kv/options.js";
import { jsonLine } from "../../bench/kv/report.js";
import { cpuSeconds, rssBytes } from "../../bench/support/proc-stats.js";

describe("kv bench options", () => {
  it("uses the full defaults, the quick ones, then env, then flags", () => {
    const full = parseKvBenchOptions([], {});
    expect(full).toMatchObject({
      opsPerPhase: 20_000,
      phaseTimeMs: 20_000,
      rssKeys: 100_000,
      rounds: 3,
      leases: 10_000,
      leaseMs: 60_000,
      bigKeys: 1_000_000,
      snapshotMs: 20_000,
      build: true,
    });
    expect(full.systems).toEqual(["etcd", "conclave"]);
    const quick = parseKvBenchOptions(["--quick"], {});
    expect(quick).toMatchObject({ opsPerPhase: 2_000, phaseTimeMs: 5_000, rssKeys: 10_000 });
    expect(quick).toMatchObject({ rounds: 3, bigKeys: 20_000 });
    expect(quick.leaseMs).toBeLessThan(full.leaseMs);
    expect(quick.snapshotMs).toBeLessThan(full.snapshotMs);
    const env = parseKvBenchOptions(["--quick"], { KV_BENCH_OPS: "300", KV_BENCH_SECONDS: "1.5" });
    expect(env).toMatchObject({ opsPerPhase: 300, phaseTimeMs: 1_500 });
    const flags = parseKvBenchOptions(["--ops", "7", "--only", "etcd"], { KV_BENCH_OPS: "300" });
    expect(flags.opsPerPhase).toBe(7);
    expect(flags.systems).toEqual(["etcd"]);
    const more = parseKvBenchOptions(
      ["--rounds", "5", "--lease-seconds", "2.5", "--big-keys", "0", "--no-build"],
      { KV_BENCH_SNAPSHOT_SECONDS: "0", KV_BENCH_LEASES: "12" },
    );
    expect(more).toMatchObject({ rounds: 5, leaseMs: 2_500, bigKeys: 0, snapshotMs: 0 });
    expect(more).toMatchObject({ leases: 12, build: false });
  });

  it("refuses unknown flags, bad numbers and unknown systems with an OptionsError", () => {
    expect(() => parseKvBenchOptions(["--nope"], {})).toThrow(OptionsError);
    expect(() => parseKvBenchOptions(["--ops", "0"], {})).toThrow(/--ops/);
    expect(() => parseKvBenchOptions(["--ops", "2.5"], {})).toThrow(/integer/);
    expect(() => parseKvBenchOptions(["--seconds", "x"], {})).toThrow(/--seconds/);
    expect(() => parseKvBenchOptions(["--only", "zookeeper"], {})).toThrow(/--only/);
    expect(() => parseKvBenchOptions([], { KV_BENCH_KEYS: "" })).toThrow(/--keys/);
    expect(() => parseKvBenchOptions(["--rounds", "0"], {})).toThrow(/--rounds/);
    expect(() => parseKvBenchOptions(["--lease-seconds", "0"], {})).toThrow(/--lease-seconds/);
    expect(() => parseKvBenchOptions(["--big-keys", "-1"], {})).toThrow(/--big-keys/);
    expect(() => parseKvBenchOptions(["extra"], {})).toThrow(OptionsError);
    expect(() => parseKvBenchOptions(["--phases", "lease"], {})).toThrow(/--phases/);
  });

  it("names the round phases to run with --phases", () => {
    expect(parseKvBenchOptions([], {}).phases).toBeUndefined();
    expect(parseKvBenchOptions(["--phases", "leases,put x64"], {}).phases).toEqual([
      "leases",
      "put x64",
    ]);
  });
});

describe("kv bench load loop", () => {
  it("stops at the operation count", async () => {
    let calls = 0;
    const result = await runLoad({
      inFlight: 4,
      maxOps: 50,
      maxMs: 10_000,
      serverPids: [process.pid],
      op: async () => {
        calls++;
      },
    });
    expect(calls).toBe(50);
    expect(result.ops).toBe(50);
    expect(result.errors).toBe(0);
  });

  it("stops at the time limit when operations never finish in time", async () => {
    const result = await runLoad({
      inFlight: 2,
      maxOps: 1_000_000,
      maxMs: 50,
      serverPids: [],
      op: () => new Promise((resolve) => setTimeout(resolve, 20)),
    });
    expect(result.ops).toBeLessThan(20);
  });

  it("gives up when most operations fail, keeping the first error", async () => {
    const result = await runLoad({
      inFlight: 1,
      maxOps: 1_000,
      maxMs: 10_000,
      serverPids: [],
      op: async () => {
        throw new Error("refused");
      },
    });
    expect(result.ops).toBe(0);
    expect(result.errors).toBe(20);
    expect(result.firstError).toBe("Error: refused");
  });

  it("takes percentiles from sorted samples", () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(51);
    expect(percentile(sorted, 99)).toBe(100);
    expect(percentile(new Float64Array(0), 50)).toBeNaN();
  });
});

describe("kv bench JSON line", () => {
  it("writes NaN and Infinity as null", () => {
    expect(jsonLine({ a: Number.NaN, b: Number.POSITIVE_INFINITY, c: 1 })).toBe(
      '{"a":null,"b":null,"c":1}',
    );
  });
});

describe("kv bench /proc readings", () => {
  it("reads CPU seconds and RSS of this process", () => {
    expect(cpuSeconds(process.pid)).toBeGreaterThan(0);
    expect(rssBytes(process.pid)).toBeGreaterThan(1024 * 1024);
  });
});
