import { describe, expect, it } from "vitest";
import { type LoadResult, percentile, runLoad } from "../../bench/kv/load.js";
import { OptionsError, parseKvBenchOptions } from "../../bench/kv/options.js";
import type { SystemResult } from "../../bench/kv/phases.js";
import { checkTargets, jsonLine } from "../../bench/kv/report.js";
import { cpuSeconds, rssBytes } from "../../bench/support/proc-stats.js";

describe("kv bench options", () => {
  it("uses the full defaults, the quick ones, then env, then flags", () => {
    const full = parseKvBenchOptions([], {});
    expect(full).toMatchObject({ opsPerPhase: 20_000, phaseTimeMs: 20_000, rssKeys: 100_000 });
    expect(full.systems).toEqual(["etcd", "conclave"]);
    const quick = parseKvBenchOptions(["--quick"], {});
    expect(quick).toMatchObject({ opsPerPhase: 2_000, phaseTimeMs: 5_000, rssKeys: 10_000 });
    const env = parseKvBenchOptions(["--quick"], { KV_BENCH_OPS: "300", KV_BENCH_SECONDS: "1.5" });
    expect(env).toMatchObject({ opsPerPhase: 300, phaseTimeMs: 1_500 });
    const flags = parseKvBenchOptions(["--ops", "7", "--only", "etcd"], { KV_BENCH_OPS: "300" });
    expect(flags.opsPerPhase).toBe(7);
    expect(flags.systems).toEqual(["etcd"]);
  });

  it("refuses unknown flags, bad numbers and unknown systems with an OptionsError", () => {
    expect(() => parseKvBenchOptions(["--nope"], {})).toThrow(OptionsError);
    expect(() => parseKvBenchOptions(["--ops", "0"], {})).toThrow(/--ops/);
    expect(() => parseKvBenchOptions(["--ops", "2.5"], {})).toThrow(/integer/);
    expect(() => parseKvBenchOptions(["--seconds", "x"], {})).toThrow(/--seconds/);
    expect(() => parseKvBenchOptions(["--only", "zookeeper"], {})).toThrow(/--only/);
    expect(() => parseKvBenchOptions([], { KV_BENCH_KEYS: "" })).toThrow(/--keys/);
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

function load(opsPerSecond: number, p99Ms: number, cpu: number): LoadResult {
  return {
    ops: 1000,
    errors: 0,
    elapsedMs: 1000,
    opsPerSecond,
    p50Ms: p99Ms / 2,
    p99Ms,
    serverCpuSecondsPer1kOps: cpu,
    clientCpuSecondsPer1kOps: cpu,
    firstError: undefined,
  };
}

function system(
  name: "etcd" | "conclave",
  scale: number,
  keys: number,
  rssMb: number,
): SystemResult {
  return {
    name,
    puts: [1, 16, 64, 256].map((inFlight) => ({
      inFlight,
      result: load(1000 * scale, 10 / scale, 1 / scale),
    })),
    gets: load(2000 * scale, 5, 1 / scale),
    watch: {
      watchers: 10,
      puts: 100,
      expected: 1000,
      delivered: 1000,
      elapsedMs: 1000,
      eventsPerSecond: 1000,
      writerOpsPerSecond: 100,
      serverCpuSecondsPer1kEvents: 0.1,
    },
    rss: { keys, fillErrors: 0, perNodeBytes: [rssMb, rssMb, rssMb].map((mb) => mb * 1024 * 1024) },
    loadAverage: [0, 0],
  };
}

describe("kv bench targets", () => {
  it("judges each target from the Conclave/etcd ratio", () => {
    const checks = checkTargets(system("etcd", 1, 100, 100), system("conclave", 2, 100, 150));
    const byName = new Map(checks.map((c) => [c.target, c]));
    expect(byName.get("put ops/s x64")).toMatchObject({ ratio: 2, met: true });
    expect(byName.get("server CPU per put x1")).toMatchObject({ ratio: 0.5, met: true });
    expect(byName.get("put p99 x1")).toMatchObject({ ratio: 0.5, met: true });
    expect(byName.get("linearizable get ops/s x64")).toMatchObject({ ratio: 2, met: true });
    expect(byName.get("RSS per node (mean)")).toMatchObject({ ratio: 1.5, met: true });
    const worse = checkTargets(system("etcd", 1, 100, 100), system("conclave", 1.2, 100, 250));
    expect(worse.find((c) => c.target === "put ops/s x256")?.met).toBe(false);
    expect(worse.find((c) => c.target === "RSS per node (mean)")?.met).toBe(false);
  });

  it("calls a low RSS ratio inconclusive when Conclave holds fewer keys", () => {
    const checks = checkTargets(system("etcd", 1, 100, 100), system("conclave", 1, 60, 150));
    expect(checks.find((c) => c.target === "RSS per node (mean)")?.met).toBeNull();
  });

  it("leaves every target unmeasured with one system only", () => {
    for (const c of checkTargets(system("etcd", 1, 100, 100), undefined)) {
      expect(c.met).toBeNull();
    }
  });

  it("writes NaN and Infinity as null in the JSON line", () => {
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
