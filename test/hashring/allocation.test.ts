/**
 * The lookup hot path allocates nothing for string keys. Measured in a child
 * process (forced GC, a young generation too large to be collected during
 * the run): growth over 500,000 lookups stays below 1 MiB, i.e. below two
 * bytes per lookup, where boxing one hash per lookup would cost 8+ bytes.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const child = fileURLToPath(new URL("./fixtures/allocation-child.ts", import.meta.url));
const root = fileURLToPath(new URL("../../", import.meta.url));

describe("lookup allocation", () => {
  it("get() with string keys allocates nothing once warmed up", () => {
    const output = execFileSync(
      process.execPath,
      [
        "--expose-gc",
        "--min-semi-space-size=64",
        "--max-semi-space-size=64",
        "--import",
        "tsx",
        child,
      ],
      { cwd: root, encoding: "utf8", timeout: 120_000 },
    );
    const { lookups, results } = JSON.parse(output) as {
      lookups: number;
      results: Record<string, number>;
    };
    // The control allocates an array per call, so the method can see allocation.
    expect(results["control:getN"]!).toBeGreaterThan(lookups * 16);
    for (const algorithm of ["ring", "ketama", "jump", "rendezvous", "maglev"]) {
      expect(results[algorithm], algorithm).toBeLessThan(1024 * 1024);
    }
  });
});
