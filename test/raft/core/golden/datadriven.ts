import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";

/** One `key=value`, `key=(a,b,c)` or bare `flag` on a command line. */
export interface CmdArg {
  readonly key: string;
  readonly values: readonly string[];
}

/** One case of a golden file: a command, its input lines and the output it must print. */
export interface GoldenCase {
  /** 1-based line of the command, for naming and error messages. */
  readonly line: number;
  readonly commandLine: string;
  readonly command: string;
  readonly args: readonly CmdArg[];
  readonly input: readonly string[];
  readonly expected: string;
  /** 0-based line range [from, to) of the expected output, for rewriting. */
  readonly outputFrom: number;
  readonly outputTo: number;
}

export class GoldenFormatError extends Error {
  readonly code = "GOLDEN_FORMAT";
}

const SEPARATOR = "----";

/**
 * Splits a case file into cases. Lines starting with `#` outside a case are
 * comments; a blank line ends a case's output, so outputs never contain one.
 */
export function parseGoldenFile(path: string, text: string): GoldenCase[] {
  const lines = text.split("\n");
  const cases: GoldenCase[] = [];
  let i = 0;
  while (i < lines.length) {
    const raw = lines[i]!;
    if (raw.trim() === "" || raw.startsWith("#")) {
      i++;
      continue;
    }
    const line = i + 1;
    const commandLine = raw.trim();
    const { command, args } = parseCommandLine(commandLine, `${path}:${line}`);
    i++;
    const input: string[] = [];
    while (i < lines.length && lines[i] !== SEPARATOR) {
      if (lines[i]!.trim() === "") {
        throw new GoldenFormatError(`${path}:${line}: case has no "${SEPARATOR}" line`);
      }
      input.push(lines[i]!);
      i++;
    }
    if (i >= lines.length) {
      throw new GoldenFormatError(`${path}:${line}: case has no "${SEPARATOR}" line`);
    }
    i++;
    const outputFrom = i;
    while (i < lines.length && lines[i]!.trim() !== "") i++;
    cases.push({
      line,
      commandLine,
      command,
      args,
      input,
      expected: lines.slice(outputFrom, i).join("\n"),
      outputFrom,
      outputTo: i,
    });
  }
  return cases;
}

export function parseCommandLine(text: string, where: string): { command: string; args: CmdArg[] } {
  const tokens: string[] = [];
  let current = "";
  let depth = 0;
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (depth < 0) throw new GoldenFormatError(`${where}: unbalanced ")"`);
    if (ch === " " && depth === 0) {
      if (current !== "") tokens.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  if (depth !== 0) throw new GoldenFormatError(`${where}: unbalanced "("`);
  if (current !== "") tokens.push(current);
  const [command, ...rest] = tokens;
  if (command === undefined) throw new GoldenFormatError(`${where}: empty command`);
  const args = rest.map((token): CmdArg => {
    const eq = token.indexOf("=");
    if (eq < 0) return { key: token, values: [] };
    const key = token.slice(0, eq);
    const value = token.slice(eq + 1);
    if (value.startsWith("(") && value.endsWith(")")) {
      const inner = value.slice(1, -1).trim();
      return { key, values: inner === "" ? [] : inner.split(",").map((v) => v.trim()) };
    }
    return { key, values: [value] };
  });
  return { command, args };
}

/** Rewrites the expected outputs of `cases` that have an actual output in `actual`. */
export function rewriteGoldenFile(
  text: string,
  cases: readonly GoldenCase[],
  actual: ReadonlyMap<number, string>,
): string {
  const lines = text.split("\n");
  // From the last case backwards, so earlier line numbers stay valid.
  for (const c of [...cases].reverse()) {
    const out = actual.get(c.line);
    if (out === undefined) continue;
    lines.splice(c.outputFrom, c.outputTo - c.outputFrom, ...(out === "" ? [] : out.split("\n")));
  }
  return lines.join("\n");
}

/** Runs one command against a topic's state and returns what it printed. */
export type GoldenHandler = (c: GoldenCase) => string;

/** Errors with a `code` are behaviour worth printing; anything else is a broken test. */
function describeError(err: unknown): string | undefined {
  if (err instanceof Error && "code" in err && typeof err.code === "string") {
    return `error ${err.code}: ${err.message}`;
  }
  return undefined;
}

export function runCase(handler: GoldenHandler, c: GoldenCase): string {
  let out: string;
  try {
    out = handler(c);
  } catch (err) {
    const printed = describeError(err);
    if (printed === undefined) throw err;
    out = printed;
  }
  out = out.replace(/\n+$/, "");
  if (out.split("\n").some((l) => l.trim() === "") && out !== "") {
    throw new GoldenFormatError(`line ${c.line}: output contains a blank line`);
  }
  return out === "" ? "ok" : out;
}

export const updating = (): boolean => process.env.UPDATE_GOLDEN === "1";

/**
 * Registers one `it` per case of `path`, all sharing the state `makeHandler`
 * builds, run in file order. With UPDATE_GOLDEN=1 the file's expected outputs
 * are rewritten from what the cases printed instead of being compared.
 */
export function describeGoldenFile(path: string, name: string, makeHandler: () => GoldenHandler) {
  const text = readFileSync(path, "utf8");
  const cases = parseGoldenFile(path, text);
  describe(name, () => {
    const handler = makeHandler();
    const actual = new Map<number, string>();
    for (const c of cases) {
      it(`${name}:${c.line} ${c.commandLine}`, () => {
        const out = runCase(handler, c);
        actual.set(c.line, out);
        if (!updating()) expect(out).toBe(c.expected);
      });
    }
    afterAll(() => {
      if (!updating()) return;
      const next = rewriteGoldenFile(text, cases, actual);
      if (next !== text) writeFileSync(path, next);
    });
  });
}
