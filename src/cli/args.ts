/**
 * Flag and argument parsing shared by the client commands: each command
 * declares its positional arguments and flags once, and that declaration is
 * both the parser's input and the command's `--help` text.
 */
import { parseArgs } from "node:util";
import { CONNECTION_OPTIONS, type ConnectionFlags, resolveConnection } from "./connection-flags.js";

export interface OptionSpec {
  readonly type: "string" | "boolean";
  /** Placeholder shown in usage, e.g. "ID". */
  readonly valueName?: string;
  readonly description: string;
  readonly short?: string;
  /** May be given more than once (string flags); read with `Flags.strings`. */
  readonly multiple?: boolean;
}

export interface ArgSpec {
  readonly name: string;
  readonly optional?: boolean;
}

export interface CommandSpec {
  /** Full name as typed, e.g. "lease grant". */
  readonly name: string;
  readonly summary: string;
  readonly args: readonly ArgSpec[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Further help text: formats, examples, what is not built. */
  readonly details?: string;
}

/** Bad command-line syntax or values: answered with the command's usage and exit code 2. */
export class UsageError extends Error {
  readonly usage: string;
  constructor(message: string, usage: string) {
    super(message);
    this.name = "UsageError";
    this.usage = usage;
  }
}

/** The members `conclave start` runs by default, so a local cluster needs no flag. */
export const DEFAULT_ENDPOINTS =
  "http://127.0.0.1:7379,http://127.0.0.1:7381,http://127.0.0.1:7383";
const EXAMPLE_ENDPOINT = "http://127.0.0.1:7379";
export const DEFAULT_TIMEOUT_MS = 5000;

export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  endpoints: {
    type: "string",
    valueName: "URL,...",
    description: `cluster endpoints (default: $CONCLAVE_ENDPOINTS or ${DEFAULT_ENDPOINTS})`,
  },
  timeout: {
    type: "string",
    valueName: "MS",
    description: `budget of each call in milliseconds, retries included (default ${DEFAULT_TIMEOUT_MS})`,
  },
  json: { type: "boolean", description: "machine output: one JSON document per result" },
  ...CONNECTION_OPTIONS,
  help: { type: "boolean", short: "h", description: "show this command's help" },
};

export interface GlobalOptions extends ConnectionFlags {
  readonly endpoints: readonly string[];
  readonly timeoutMs: number;
  readonly json: boolean;
}

function flagLabel(name: string, spec: OptionSpec): string {
  const short = spec.short ? `-${spec.short}, ` : "";
  return spec.type === "string"
    ? `${short}--${name} ${spec.valueName ?? "VALUE"}`
    : `${short}--${name}`;
}

function optionLines(options: Readonly<Record<string, OptionSpec>>): string {
  const entries = Object.entries(options);
  const width = Math.max(...entries.map(([n, s]) => flagLabel(n, s).length)) + 2;
  return entries.map(([n, s]) => `  ${flagLabel(n, s).padEnd(width)}${s.description}`).join("\n");
}

export function usageLine(spec: CommandSpec): string {
  const args = spec.args.map((a) => (a.optional ? `[${a.name}]` : a.name));
  const flags = Object.keys(spec.options).length > 0 ? ["[flags]"] : [];
  return ["conclave", spec.name, ...args, ...flags].join(" ");
}

export function usage(spec: CommandSpec): string {
  const parts = [`Usage: ${usageLine(spec)}`, "", spec.summary];
  if (Object.keys(spec.options).length > 0) parts.push("", "Flags:", optionLines(spec.options));
  if (spec.details) parts.push("", spec.details.trimEnd());
  parts.push("", "Global flags:", optionLines(GLOBAL_OPTIONS));
  return `${parts.join("\n")}\n`;
}

type Values = Record<string, string | boolean | string[] | undefined>;

/** A command's flags after parsing, with typed, validating accessors. */
export class Flags {
  constructor(
    private readonly values: Values,
    private readonly usageText: string,
  ) {}

  fail(message: string): never {
    throw new UsageError(message, this.usageText);
  }

  has(name: string): boolean {
    return this.values[name] !== undefined && this.values[name] !== false;
  }

  bool(name: string): boolean {
    return this.values[name] === true;
  }

  string(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === "string" ? v : undefined;
  }

  /** Every value of a flag that may repeat, in order; empty when absent. */
  strings(name: string): string[] {
    const v = this.values[name];
    return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
  }

  /** An integer flag in [min, max]; undefined when absent. */
  int(name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    return parseInteger(text, `--${name}`, min, max, (m) => this.fail(m));
  }

  /** One of `choices` (case-insensitive); undefined when absent. */
  choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const text = this.string(name);
    if (text === undefined) return undefined;
    const found = choices.find((c) => c.toLowerCase() === text.toLowerCase());
    if (found === undefined) {
      this.fail(`--${name} must be one of ${choices.join(", ")}, got "${text}"`);
    }
    return found;
  }

  /** Flags that exclude each other: at most one of `names` may be given. */
  exclusive(...names: string[]): void {
    const given = names.filter((n) => this.has(n));
    if (given.length > 1)
      this.fail(`${given.map((n) => `--${n}`).join(" and ")} exclude each other`);
  }
}

/** Decimal integers, or hexadecimal with 0x (lease and member ids are often shown that way). */
export function parseInteger(
  text: string,
  what: string,
  min: number,
  max: number,
  fail: (message: string) => never,
): number {
  const n = /^[0-9]{1,16}$/.test(text)
    ? Number(text)
    : /^0x[0-9a-fA-F]{1,14}$/.test(text)
      ? Number.parseInt(text.slice(2), 16)
      : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    fail(`${what} must be an integer ${range}, got "${text}"`);
  }
  return n;
}

export interface ParsedCommand {
  readonly args: readonly string[];
  readonly flags: Flags;
  readonly globals: GlobalOptions;
  readonly help: boolean;
}

/** Whether `--help`/`-h` appears before any `--` terminator. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === "--") return false;
    if (a === "--help" || a === "-h") return true;
  }
  return false;
}

export function parseCommand(
  spec: CommandSpec,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ParsedCommand {
  const usageText = usage(spec);
  const fail = (message: string): never => {
    throw new UsageError(message, usageText);
  };
  if (wantsHelp(argv)) {
    return { args: [], flags: new Flags({}, usageText), globals: defaults(env), help: true };
  }
  const parsed = parseTokens(spec, argv, { ...GLOBAL_OPTIONS, ...spec.options }, fail);
  const globals = resolveGlobals(parsed.values, env, fail);
  return {
    args: parsed.positionals,
    flags: new Flags(parsed.values, usageText),
    globals,
    help: false,
  };
}

/** Parses `argv` against `options` and checks the positional count against `spec.args`. */
export function parseTokens(
  spec: CommandSpec,
  argv: readonly string[],
  options: Readonly<Record<string, OptionSpec>>,
  fail: (message: string) => never,
): { values: Values; positionals: string[] } {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...options },
      allowPositionals: true,
      strict: true,
    }) as { values: Values; positionals: string[] };
  } catch (err) {
    // node:util names the flag in its message; its hint about `--` only confuses here.
    return fail((err as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
  const required = spec.args.filter((a) => !a.optional).length;
  const { positionals } = parsed;
  if (positionals.length < required) {
    const missing = spec.args.slice(positionals.length).find((a) => !a.optional);
    fail(`missing argument ${missing?.name ?? ""}`.trim());
  }
  if (positionals.length > spec.args.length) {
    fail(`unexpected argument "${positionals[spec.args.length]}"`);
  }
  return parsed;
}

/** Flags parsed from a line of text (a txn operation), checked against `spec` alone. */
export function parseLine(
  spec: CommandSpec,
  tokens: readonly string[],
  fail: (m: string) => never,
) {
  const parsed = parseTokens(spec, tokens, spec.options, fail);
  return { args: parsed.positionals, flags: new Flags(parsed.values, usage(spec)) };
}

function defaults(env: Readonly<Record<string, string | undefined>>): GlobalOptions {
  return resolveGlobals({}, env, (m) => {
    throw new Error(m);
  });
}

/** Endpoints from `--endpoints a,b`, else CONCLAVE_ENDPOINTS, else the local default. */
export function parseEndpoints(
  fromFlag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  fail: (message: string) => never,
): string[] {
  const envText = env["CONCLAVE_ENDPOINTS"]?.trim() ? env["CONCLAVE_ENDPOINTS"] : undefined;
  const text = fromFlag ?? envText ?? DEFAULT_ENDPOINTS;
  const source = fromFlag !== undefined ? "--endpoints" : envText ? "CONCLAVE_ENDPOINTS" : "";
  const endpoints = text
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  if (endpoints.length === 0) fail(`${source} lists no endpoint`);
  for (const e of endpoints) {
    let url: URL | undefined;
    try {
      url = new URL(e);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
      fail(`${source}: "${e}" is not an http(s) URL such as ${EXAMPLE_ENDPOINT}`);
    }
  }
  return endpoints;
}

export function resolveGlobals(
  values: Values,
  env: Readonly<Record<string, string | undefined>>,
  fail: (message: string) => never,
): GlobalOptions {
  const endpoints = parseEndpoints(
    typeof values["endpoints"] === "string" ? values["endpoints"] : undefined,
    env,
    fail,
  );
  const timeoutText = typeof values["timeout"] === "string" ? values["timeout"] : undefined;
  const timeoutMs =
    timeoutText === undefined
      ? DEFAULT_TIMEOUT_MS
      : parseInteger(timeoutText, "--timeout", 1, 3_600_000, fail);
  return {
    endpoints,
    timeoutMs,
    json: values["json"] === true,
    ...resolveConnection(values, env, fail),
  };
}
