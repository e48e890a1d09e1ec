import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { GoldenHandler } from "./datadriven.js";
import { describeGoldenFile, parseGoldenFile, rewriteGoldenFile } from "./datadriven.js";
import { confChangeHandler } from "./handlers/confchange.js";
import { inflightsHandler } from "./handlers/inflights.js";
import { logHandler } from "./handlers/log.js";
import { progressHandler } from "./handlers/progress.js";
import { quorumHandler } from "./handlers/quorum.js";
import { unstableHandler } from "./handlers/unstable.js";

/** A case file's topic is the part of its name before the first "-" or ".". */
const HANDLERS: Record<string, () => GoldenHandler> = {
  quorum: quorumHandler,
  confchange: confChangeHandler,
  progress: progressHandler,
  inflights: inflightsHandler,
  log: logHandler,
  unstable: unstableHandler,
};

const dir = join(dirname(fileURLToPath(import.meta.url)), "testdata");
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".txt"))
  .sort();

describe("golden case files", () => {
  it("every topic has a case file and every file a topic", () => {
    const topics = new Set(files.map((f) => f.split(/[-.]/)[0]!));
    expect([...topics].sort()).toEqual(Object.keys(HANDLERS).sort());
  });
});

for (const file of files) {
  const make = HANDLERS[file.split(/[-.]/)[0]!];
  if (make !== undefined) describeGoldenFile(join(dir, file), file, make);
}

describe("the case file format", () => {
  const text = [
    "# a comment",
    "cmd a=1 b=(1, 2,_) flag",
    "input line",
    "----",
    "old output",
    "",
    "other",
    "----",
    "",
  ].join("\n");

  it("parses commands, lists, flags, input and expected output", () => {
    const [first, second] = parseGoldenFile("t.txt", text);
    expect(first).toMatchObject({
      line: 2,
      command: "cmd",
      args: [
        { key: "a", values: ["1"] },
        { key: "b", values: ["1", "2", "_"] },
        { key: "flag", values: [] },
      ],
      input: ["input line"],
      expected: "old output",
    });
    expect(second).toMatchObject({ line: 7, command: "other", input: [], expected: "" });
  });

  it("rewrites only the outputs, keeping comments and commands", () => {
    const cases = parseGoldenFile("t.txt", text);
    const next = rewriteGoldenFile(
      text,
      cases,
      new Map([
        [2, "new\noutput"],
        [7, "filled"],
      ]),
    );
    expect(next).toBe(
      [
        "# a comment",
        "cmd a=1 b=(1, 2,_) flag",
        "input line",
        "----",
        "new",
        "output",
        "",
        "other",
        "----",
        "filled",
        "",
      ].join("\n"),
    );
  });

  it("rejects a case without a separator", () => {
    expect(() => parseGoldenFile("t.txt", "cmd\ninput\n\n")).toThrow(/no "----" line/);
  });
});
