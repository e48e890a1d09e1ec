/**
 * The text format `conclave txn` reads, after etcdctl's txn: three sections
 * separated by one blank line each — compares, then the operations run when
 * all compares hold, then those run otherwise.
 *
 *   mod("config/version") = 4
 *   value("leader") != "node-2"
 *
 *   put config/version 5
 *   get config/ --prefix
 *
 *   get config/version
 *
 * Compare: TARGET("KEY") OP VALUE with TARGET one of value, version, create,
 * mod, lease; OP one of =, !=, <, >; VALUE a quoted string for value, an
 * integer otherwise. Operation: a put, get or del command line without the
 * `conclave` (same flags). Words with spaces go in double quotes (JSON
 * escapes) or single quotes (taken literally). Lines starting with # are
 * comments.
 */
import { type CommandSpec, parseInteger, parseLine } from "../args.js";
import type { Compare, CompareResult, TxnOp, TxnRequest } from "../client-port.js";
import {
  deleteOptions,
  delSpec,
  getSpec,
  putOptions,
  putSpec,
  rangeRequest,
} from "./kv-requests.js";

export type Fail = (message: string) => never;

/** Splits a line into words: bare, "double-quoted with JSON escapes" or 'single-quoted'. */
export function tokenize(line: string, fail: Fail): string[] {
  const words: string[] = [];
  const word = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s"']+))/y;
  let at = 0;
  while (at < line.length) {
    if (/^\s*$/.test(line.slice(at))) break;
    word.lastIndex = at;
    const m = word.exec(line);
    if (m === null) fail(`unterminated quote at column ${at + 1}`);
    if (m[1] !== undefined) {
      try {
        words.push(JSON.parse(`"${m[1]}"`) as string);
      } catch {
        fail(`bad escape in "${m[1]}"`);
      }
    } else {
      words.push(m[2] ?? m[3] ?? "");
    }
    at = word.lastIndex;
  }
  return words;
}

const OPERATORS: Readonly<Record<string, CompareResult>> = {
  "=": "equal",
  "==": "equal",
  "!=": "notEqual",
  "<": "less",
  ">": "greater",
};

const COMPARE_LINE =
  /^(value|version|create|mod|lease)\(\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^\s)"']+)\s*\)\s*(==|=|!=|<|>)\s*(.+)$/;

export function parseCompare(line: string, fail: Fail): Compare {
  const m = COMPARE_LINE.exec(line.trim());
  if (m === null) {
    fail(`"${line.trim()}" is not a compare such as mod("key") > 0 or value("key") = "v"`);
  }
  const [, target = "", keyText = "", op = "", valueText = ""] = m;
  const [key] = tokenize(keyText, fail);
  const values = tokenize(valueText, fail);
  if (key === undefined || values.length !== 1)
    fail(`"${line.trim()}" needs one key and one value`);
  const result = OPERATORS[op];
  if (result === undefined) fail(`unknown operator ${op}`);
  const value = values[0] ?? "";
  if (target === "value") return { key, result, target, value };
  const n = parseInteger(value, `${target}("${key}")'s value`, 0, Number.MAX_SAFE_INTEGER, fail);
  return { key, result, target: target as "version" | "create" | "mod" | "lease", value: n };
}

const OP_SPECS: Readonly<Record<string, CommandSpec>> = {
  put: putSpec,
  get: getSpec,
  del: delSpec,
};

export function parseOperation(line: string, fail: Fail): TxnOp {
  const [verb = "", ...rest] = tokenize(line, fail);
  const spec = OP_SPECS[verb];
  if (spec === undefined) fail(`"${verb}" is not an operation; use put, get or del`);
  const { args, flags } = parseLine(spec, rest, (m) => fail(`${verb}: ${m}`));
  const [key = "", value = ""] = args;
  if (verb === "put") return { type: "put", key, value, ...putOptions(flags) };
  if (verb === "get") return { type: "range", ...rangeRequest(key, flags) };
  return { type: "delete", key, ...deleteOptions(flags) };
}

/** Parses the whole txn text; errors name the line. */
export function parseTxn(text: string, fail: Fail): TxnRequest {
  const sections: { line: string; number: number }[][] = [[]];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trimStart().startsWith("#")) return;
    if (line.trim() === "") sections.push([]);
    else sections[sections.length - 1]!.push({ line, number: i + 1 });
  });
  // Blank lines after the last content carry no meaning.
  while (sections.length > 1 && sections[sections.length - 1]!.length === 0) sections.pop();
  if (sections.length > 3) {
    const extra = sections[3]![0];
    fail(
      `line ${extra?.number ?? lines.length}: a txn has at most three sections (compares, success, failure)`,
    );
  }
  const at =
    (n: number): Fail =>
    (m) =>
      fail(`line ${n}: ${m}`);
  const [compares = [], success = [], failure = []] = sections;
  return {
    compare: compares.map((l) => parseCompare(l.line, at(l.number))),
    success: success.map((l) => parseOperation(l.line, at(l.number))),
    failure: failure.map((l) => parseOperation(l.line, at(l.number))),
  };
}
