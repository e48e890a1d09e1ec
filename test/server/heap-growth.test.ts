/**
 * `--heap-growth-percent`: how far a member's JS heap may grow past what its
 * last full collection left live. Checked end to end in a child process:
 * V8 itself reports the factor it sized the heap with.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { applyHeapGrowth } from "../../src/server/runtime/heap-growth.js";
import { planMembers, ServeProcess } from "./process/serve-process.js";
import { configFailure, resolveTestConfig } from "./serve-config.js";

const HEAP_GROWTH = fileURLToPath(
  new URL("../../src/server/runtime/heap-growth.ts", import.meta.url),
);

const dir = mkdtempSync(join(tmpdir(), "heap-growth-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs a process that applies `percent`, then keeps ~30 MB live while it
 * allocates ~10 times that, so V8 runs full collections; returns the factors
 * V8 traced for the limits it set after them (`--trace-gc-verbose`).
 */
function tracedFactors(percent: number): number[] {
  const script = join(dir, `churn-${percent}.mjs`);
  writeFileSync(
    script,
    `import { applyHeapGrowth } from ${JSON.stringify(HEAP_GROWTH)};
applyHeapGrowth(${percent});
const live = [];
for (let i = 0; i < 200_000; i++) live.push({ i, key: "k" + i, revisions: [i] });
const ring = new Array(100_000);
for (let i = 0; i < 3_000_000; i++) ring[i % ring.length] = { i, value: "v" + i, at: [i, i + 1] };
console.log("kept", live.length + ring.length);
`,
  );
  const out = execFileSync(process.execPath, ["--trace-gc-verbose", "--import", "tsx", script], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  expect(out).toContain("kept 300000");
  expect(out).not.toMatch(/unrecognized flag|illegal value/);
  return limitFactors(out);
}

/** The factors of the heap limits V8 set after full collections, as `--trace-gc-verbose` prints them. */
function limitFactors(trace: string): number[] {
  return [...trace.matchAll(/\[HeapController\] Limit: .*\(([0-9.]+)\)/g)].map((m) => Number(m[1]));
}

describe("heap growth", () => {
  it("is 100 unless set, and a percent from 0 (V8's own choice) to 1000 otherwise", () => {
    expect(resolveTestConfig([]).heapGrowthPercent).toBe(100);
    expect(resolveTestConfig(["--heap-growth-percent=0"]).heapGrowthPercent).toBe(0);
    expect(resolveTestConfig(["--heap-growth-percent", "50"]).heapGrowthPercent).toBe(50);
    expect(resolveTestConfig([], { CONCLAVE_HEAP_GROWTH_PERCENT: "25" }).heapGrowthPercent).toBe(
      25,
    );
    for (const bad of ["-1", "1001", "1.5", "half", ""]) {
      const failure = configFailure(() => resolveTestConfig([`--heap-growth-percent=${bad}`]));
      expect(failure.field).toBe("heapGrowthPercent");
    }
  });

  it("hands V8 its heap growing factor, and nothing when it is 0", () => {
    const flags: string[] = [];
    expect(applyHeapGrowth(0, (f) => flags.push(f))).toBe(false);
    expect(applyHeapGrowth(50, (f) => flags.push(f))).toBe(true);
    expect(flags).toEqual(["--heap-growing-percent=50"]);
    expect(() => applyHeapGrowth(-1, () => {})).toThrow(/non-negative integer/);
  });

  it("sizes the heap limits after full collections by the factor set", () => {
    // A collection that shrinks the heap (V8's memory reducer, once a process
    // idles) may size with a smaller factor; none sizes with a larger one.
    const set = tracedFactors(50);
    expect(set).toContain(1.5);
    expect(set.filter((f) => f > 1.5)).toEqual([]);
    const other = tracedFactors(20);
    expect(other).toContain(1.2);
    expect(other.filter((f) => f > 1.2)).toEqual([]);
  });

  it("is applied by conclave serve as it starts, 100 unless set", async () => {
    // 11.0 is past anything V8 picks on its own (at most 4.0). Full
    // collections are forced every so many allocations so some happen as it starts.
    const [set, unset] = await planMembers(dir, ["traced", "unset"]);
    const gcArgs = ["--trace-gc-verbose", "--gc-interval=100000"];
    const p = await ServeProcess.start(set!, ["--heap-growth-percent=1000"], {}, [], gcArgs);
    await p.terminate();
    expect(limitFactors(p.output)).toContain(11);
    const q = await ServeProcess.start(unset!, [], {}, [], gcArgs);
    await q.terminate();
    // Collections while its modules load, before it reads its settings, size with V8's own.
    const factors = limitFactors(q.output);
    expect(factors).toContain(2);
    expect(factors.slice(factors.indexOf(2)).filter((f) => f > 2)).toEqual([]);
  }, 120_000);
});
