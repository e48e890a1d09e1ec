import { describe, expect, it } from "vitest";
import type { OpenFileLimits } from "../../src/server/fd-limits.js";
import { raiseOpenFileLimit } from "../../src/server/runtime/open-file-limit.js";

function recordingLog() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  return {
    lines,
    info: (fields: Record<string, unknown>, message: string) =>
      lines.push({ level: "info", message, fields }),
    warn: (fields: Record<string, unknown>, message: string) =>
      lines.push({ level: "warn", message, fields }),
  };
}

describe("raising the open-file limit at start", () => {
  it("asks prlimit to raise this process's soft limit to the hard one", async () => {
    let limits: OpenFileLimits = { soft: 1024, hard: 524_288 };
    const calls: (readonly string[])[] = [];
    const log = recordingLog();
    const after = await raiseOpenFileLimit(log, {
      pid: 4242,
      readLimits: () => limits,
      runPrlimit: async (args) => {
        calls.push(args);
        limits = { soft: 524_288, hard: 524_288 };
      },
    });
    expect(calls).toEqual([["--pid", "4242", "--nofile=524288:"]]);
    expect(after).toEqual({ soft: 524_288, hard: 524_288 });
    expect(log.lines.filter((l) => l.level === "warn")).toEqual([]);
    expect(log.lines.at(-1)?.fields).toMatchObject({ soft: 524_288, raisedFrom: 1024 });
  });

  it("warns when prlimit fails and the limit stays low", async () => {
    const log = recordingLog();
    const after = await raiseOpenFileLimit(log, {
      readLimits: () => ({ soft: 256, hard: 4096 }),
      runPrlimit: async () => {
        throw new Error("prlimit: not found");
      },
    });
    expect(after).toEqual({ soft: 256, hard: 4096 });
    const warnings = log.lines.filter((l) => l.level === "warn").map((l) => l.message);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain("could not raise");
    expect(warnings[1]).toContain("the open-file limit is low (256)");
  });

  it("leaves a limit at its hard ceiling alone and warns when it cannot be read", async () => {
    const log = recordingLog();
    let ran = false;
    await raiseOpenFileLimit(log, {
      readLimits: () => ({ soft: 65_536, hard: 65_536 }),
      runPrlimit: async () => {
        ran = true;
      },
    });
    expect(ran).toBe(false);
    const unknown = recordingLog();
    expect(await raiseOpenFileLimit(unknown, { readLimits: () => undefined })).toBeUndefined();
    expect(unknown.lines[0]?.level).toBe("warn");
  });
});
