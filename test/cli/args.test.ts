import { describe, expect, it } from "vitest";
import { parseCommand, UsageError } from "../../src/cli/args.js";
import { splitCommand } from "../../src/cli/client-commands.js";
import { getSpec, putOptions, putSpec, rangeRequest } from "../../src/cli/commands/kv-requests.js";
import { parseTxn, tokenize } from "../../src/cli/commands/txn-parse.js";

const env = {};
const fail = (m: string): never => {
  throw new Error(m);
};

function usageError(f: () => unknown): UsageError {
  try {
    f();
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error("expected a UsageError");
}

describe("parseCommand", () => {
  it("takes positionals, flags and global flags in any order", () => {
    const p = parseCommand(
      putSpec,
      ["--json", "k", "v", "--lease", "0x1f", "--timeout", "250"],
      env,
    );
    expect(p.args).toEqual(["k", "v"]);
    expect(putOptions(p.flags)).toEqual({ lease: 31 });
    expect(p.globals).toEqual({
      endpoints: ["http://127.0.0.1:7379", "http://127.0.0.1:7381", "http://127.0.0.1:7383"],
      timeoutMs: 250,
      json: true,
    });
  });

  it("reads endpoints from the flag, else CONCLAVE_ENDPOINTS, else the default", () => {
    const fromEnv = { CONCLAVE_ENDPOINTS: "http://a:1, http://b:2" };
    expect(parseCommand(getSpec, ["k"], fromEnv).globals.endpoints).toEqual([
      "http://a:1",
      "http://b:2",
    ]);
    const flag = parseCommand(getSpec, ["k", "--endpoints", "https://c:3"], fromEnv);
    expect(flag.globals.endpoints).toEqual(["https://c:3"]);
  });

  it("names the problem and carries the command's usage", () => {
    const missing = usageError(() => parseCommand(putSpec, ["k"], env));
    expect(missing.message).toBe("missing argument VALUE");
    expect(missing.usage).toContain("Usage: conclave put KEY VALUE [flags]");

    expect(usageError(() => parseCommand(getSpec, ["k", "--nope"], env)).message).toMatch(
      /Unknown option '--nope'/,
    );
    expect(usageError(() => parseCommand(getSpec, ["k", "extra"], env)).message).toBe(
      'unexpected argument "extra"',
    );
    expect(usageError(() => parseCommand(getSpec, ["k", "--timeout", "soon"], env)).message).toBe(
      '--timeout must be an integer in 1..3600000, got "soon"',
    );
    expect(
      usageError(() => parseCommand(getSpec, ["k", "--endpoints", "127.0.0.1:7379"], env)).message,
    ).toMatch(/"127.0.0.1:7379" is not an http\(s\) URL/);
    expect(usageError(() => parseCommand(getSpec, ["k", "--limit"], env)).message).toMatch(
      /--limit/,
    );
  });

  it("validates get's flags and maps them to a range request", () => {
    const parse = (...argv: string[]) => {
      const p = parseCommand(getSpec, argv, env);
      return rangeRequest(p.args[0] ?? "", p.flags);
    };
    expect(
      parse(
        "a/",
        "--prefix",
        "--limit",
        "5",
        "--rev",
        "9",
        "--sort-order",
        "desc",
        "--sort-target",
        "MOD",
        "--keys-only",
        "--serializable",
      ),
    ).toEqual({
      key: "a/",
      prefix: true,
      limit: 5,
      revision: 9,
      sortOrder: "descend",
      sortTarget: "mod",
      keysOnly: true,
      serializable: true,
    });
    expect(parse("a", "--from-key")).toEqual({ key: "a", rangeEnd: new Uint8Array([0]) });
    expect(() => parse("a", "--prefix", "--range-end", "b")).toThrow(
      "--prefix and --range-end exclude each other",
    );
    expect(() => parse("a", "--sort-order", "UP")).toThrow(
      '--sort-order must be one of ASC, DESC, NONE, got "UP"',
    );
    expect(() => parse("a", "--limit", "-1")).toThrow(/--limit/);
    expect(() => parse("a", "--keys-only", "--count-only")).toThrow(/exclude each other/);
  });

  it("answers --help before looking at anything else", () => {
    expect(parseCommand(putSpec, ["--bogus", "--help"], env).help).toBe(true);
    const literal = parseCommand(putSpec, ["k", "--", "--help"], env);
    expect(literal.help).toBe(false);
    expect(literal.args).toEqual(["k", "--help"]);
  });
});

describe("splitCommand", () => {
  it("moves global flags given before the command behind it", () => {
    expect(splitCommand(["--endpoints", "http://x:1", "--json", "get", "k"])).toEqual({
      words: ["get"],
      rest: ["--endpoints", "http://x:1", "--json", "k"],
    });
    expect(splitCommand(["--timeout=5", "lease", "list"])).toEqual({
      words: ["lease"],
      rest: ["--timeout=5", "list"],
    });
  });
});

describe("txn text", () => {
  it("tokenizes bare, double-quoted (JSON escapes) and single-quoted words", () => {
    expect(tokenize(`put k "a \\"b\\"\\n" 'c d'`, fail)).toEqual(["put", "k", 'a "b"\n', "c d"]);
    expect(() => tokenize('put k "open', fail)).toThrow(/unterminated quote/);
  });

  it("parses three sections of compares and operations", () => {
    const text = [
      "# swap the leader record",
      'mod("cfg") > 4',
      `value('leader') != "n2"`,
      'version("a b") = 0',
      "",
      'put cfg "new value" --lease 7',
      "get cfg/ --prefix --limit 2",
      "",
      "del cfg --prev-kv",
      "",
    ].join("\n");
    expect(parseTxn(text, fail)).toEqual({
      compare: [
        { key: "cfg", result: "greater", target: "mod", value: 4 },
        { key: "leader", result: "notEqual", target: "value", value: "n2" },
        { key: "a b", result: "equal", target: "version", value: 0 },
      ],
      success: [
        { type: "put", key: "cfg", value: "new value", lease: 7 },
        { type: "range", key: "cfg/", prefix: true, limit: 2 },
      ],
      failure: [{ type: "delete", key: "cfg", prevKv: true }],
    });
  });

  it("allows empty sections and names the line of a mistake", () => {
    expect(parseTxn("\nput k v\n", fail)).toEqual({
      compare: [],
      success: [{ type: "put", key: "k", value: "v" }],
      failure: [],
    });
    expect(() => parseTxn('mod("k") ~ 1\n', fail)).toThrow(/^line 1: .* is not a compare/);
    expect(() => parseTxn('mod("k") = x\n', fail)).toThrow(/^line 1: mod\("k"\)'s value must be/);
    expect(() => parseTxn("\nwrite k v\n", fail)).toThrow(/^line 2: "write" is not an operation/);
    expect(() => parseTxn("\nput k\n", fail)).toThrow(/^line 2: put: missing argument VALUE/);
    expect(() => parseTxn("\nget k --bogus\n", fail)).toThrow(/^line 2: get: Unknown option/);
    expect(() => parseTxn("\n\n\nget k\n", fail)).toThrow(
      /^line 4: a txn has at most three sections/,
    );
  });
});
