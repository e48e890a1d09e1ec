import { execFileSync, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const cli = ["--import", "tsx", "src/cli/main.ts"];

describe("conclave CLI", () => {
  it("prints help naming the modules that exist", () => {
    const out = execFileSync(process.execPath, [...cli, "help"], { encoding: "utf8" });
    expect(out).toContain("conclave/hashring");
  });

  it("prints the package version", () => {
    const out = execFileSync(process.execPath, [...cli, "version"], { encoding: "utf8" });
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("rejects an unknown command with exit code 2 and names it", () => {
    const res = spawnSync(process.execPath, [...cli, "frobnicate"], { encoding: "utf8" });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('unknown command "frobnicate"');
  });
});
