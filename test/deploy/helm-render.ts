/**
 * A renderer for exactly the Go-template subset deploy/helm/conclave uses, so
 * the chart can be rendered and validated without helm. Supported:
 *
 * - actions `{{ ... }}` with the trim markers `{{-` and `-}}`, comments `{{/* *\/}}`;
 * - `define "name"` (top level of _*.tpl files), `if` / `else` / `end`;
 * - fields `.Values.a.b`, `.Release.Name`, `.Release.Namespace`,
 *   `.Chart.Name`, `.Chart.Version`, `.Chart.AppVersion`, and `.` itself;
 * - string and integer literals, one level of parentheses;
 * - pipelines of the functions `include`, `quote`, `default`, `toYaml`, `nindent`.
 *
 * Anything else (range, with, variables, other functions, a field of a value
 * that is missing) throws, naming the template and the action, so a chart that
 * grows a construct this does not know fails the test instead of rendering
 * something helm would not.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";

export class UnsupportedTemplateError extends Error {}

type Value = unknown;

interface Context {
  readonly Values: Record<string, Value>;
  readonly Release: { readonly Name: string; readonly Namespace: string };
  readonly Chart: { readonly Name: string; readonly Version: string; readonly AppVersion: string };
}

type Node =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "output"; readonly expr: string; readonly where: string }
  | {
      readonly kind: "if";
      readonly cond: string;
      readonly then: Node[];
      readonly otherwise: Node[];
      readonly where: string;
    };

interface Token {
  readonly kind: "text" | "action";
  text: string;
  readonly where: string;
}

function tokenize(source: string, file: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  while (pos < source.length) {
    const open = source.indexOf("{{", pos);
    if (open < 0) {
      tokens.push({ kind: "text", text: source.slice(pos), where: file });
      break;
    }
    tokens.push({ kind: "text", text: source.slice(pos, open), where: file });
    const close = source.indexOf("}}", open);
    if (close < 0) throw new UnsupportedTemplateError(`${file}: unclosed {{`);
    let inner = source.slice(open + 2, close);
    const line = source.slice(0, open).split("\n").length;
    const where = `${file}:${line}`;
    if (inner.startsWith("-") && /^-\s/.test(inner)) {
      const prev = tokens[tokens.length - 1]!;
      prev.text = prev.text.replace(/\s+$/, "");
      inner = inner.slice(1);
    }
    let trimAfter = false;
    if (/\s-$/.test(inner)) {
      trimAfter = true;
      inner = inner.slice(0, -1);
    }
    tokens.push({ kind: "action", text: inner.trim(), where });
    pos = close + 2;
    if (trimAfter) {
      while (pos < source.length && /\s/.test(source[pos]!)) pos++;
    }
  }
  return tokens;
}

interface Parsed {
  readonly body: Node[];
  readonly defines: Map<string, Node[]>;
}

function parseTokens(tokens: Token[]): Parsed {
  const defines = new Map<string, Node[]>();
  let i = 0;
  // Parses until one of `stops`; returns the nodes and the stop action met.
  const block = (stops: readonly string[], depth: number): [Node[], string | undefined] => {
    const nodes: Node[] = [];
    while (i < tokens.length) {
      const t = tokens[i++]!;
      if (t.kind === "text") {
        if (t.text !== "") nodes.push({ kind: "text", text: t.text });
        continue;
      }
      const a = t.text;
      if (a.startsWith("/*")) {
        if (!a.endsWith("*/")) throw new UnsupportedTemplateError(`${t.where}: bad comment`);
        continue;
      }
      const word = a.split(/\s+/)[0]!;
      if (stops.includes(word)) return [nodes, word];
      if (word === "define") {
        if (depth !== 0) throw new UnsupportedTemplateError(`${t.where}: define inside a block`);
        const m = /^define\s+"([^"]+)"$/.exec(a);
        if (m === null) throw new UnsupportedTemplateError(`${t.where}: bad define: ${a}`);
        const [body, stop] = block(["end"], depth + 1);
        if (stop !== "end") throw new UnsupportedTemplateError(`${t.where}: define without end`);
        defines.set(m[1]!, body);
        continue;
      }
      if (word === "if") {
        const cond = a.slice(2).trim();
        const [then, stop] = block(["else", "end"], depth + 1);
        let otherwise: Node[] = [];
        if (stop === "else") {
          const elseToken = tokens[i - 1]!;
          if (elseToken.text !== "else") {
            throw new UnsupportedTemplateError(
              `${elseToken.where}: only a plain else is supported`,
            );
          }
          const [rest, stop2] = block(["end"], depth + 1);
          if (stop2 !== "end") throw new UnsupportedTemplateError(`${t.where}: if without end`);
          otherwise = rest;
        } else if (stop !== "end") {
          throw new UnsupportedTemplateError(`${t.where}: if without end`);
        }
        nodes.push({ kind: "if", cond, then, otherwise, where: t.where });
        continue;
      }
      if (["else", "end"].includes(word)) {
        throw new UnsupportedTemplateError(`${t.where}: unexpected ${word}`);
      }
      if (/^[a-z]+$/.test(word) && KEYWORDS.has(word)) {
        throw new UnsupportedTemplateError(`${t.where}: "${word}" is not supported`);
      }
      nodes.push({ kind: "output", expr: a, where: t.where });
    }
    return [nodes, undefined];
  };
  const [body, stop] = block([], 0);
  if (stop !== undefined) throw new UnsupportedTemplateError(`unexpected ${stop}`);
  return { body, defines };
}

const KEYWORDS = new Set(["range", "with", "block", "template", "break", "continue", "else"]);

/** Splits an expression into words: strings, parenthesised groups, pipes and bare words. */
function words(expr: string, where: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      const m = /^"(?:[^"\\]|\\.)*"/.exec(expr.slice(i));
      if (m === null) throw new UnsupportedTemplateError(`${where}: unclosed string in ${expr}`);
      out.push(m[0]);
      i += m[0].length;
    } else if (c === "(") {
      const close = expr.indexOf(")", i);
      const nested = expr.indexOf("(", i + 1);
      if (close < 0 || (nested >= 0 && nested < close)) {
        throw new UnsupportedTemplateError(`${where}: only one level of parentheses: ${expr}`);
      }
      out.push(expr.slice(i, close + 1));
      i = close + 1;
    } else if (c === "|") {
      out.push("|");
      i++;
    } else {
      const m = /^[^\s|()"]+/.exec(expr.slice(i))!;
      out.push(m[0]);
      i += m[0].length;
    }
  }
  return out;
}

export function truthy(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v as object).length > 0;
  return true;
}

class Renderer {
  constructor(private readonly defines: Map<string, Node[]>) {}

  render(nodes: readonly Node[], dot: Value): string {
    let out = "";
    for (const n of nodes) {
      if (n.kind === "text") out += n.text;
      else if (n.kind === "if") {
        out += this.render(truthy(this.evaluate(n.cond, dot, n.where)) ? n.then : n.otherwise, dot);
      } else {
        const v = this.evaluate(n.expr, dot, n.where);
        out += this.print(v, n);
      }
    }
    return out;
  }

  private print(v: Value, n: { expr: string; where: string }): string {
    if (v === undefined || v === null) {
      throw new UnsupportedTemplateError(`${n.where}: {{ ${n.expr} }} renders no value`);
    }
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    throw new UnsupportedTemplateError(`${n.where}: {{ ${n.expr} }} is a map or list; use toYaml`);
  }

  evaluate(expr: string, dot: Value, where: string): Value {
    const ws = words(expr, where);
    if (ws.length === 0) throw new UnsupportedTemplateError(`${where}: empty action`);
    const commands: string[][] = [[]];
    for (const w of ws) {
      if (w === "|") commands.push([]);
      else commands[commands.length - 1]!.push(w);
    }
    let piped: { value: Value } | undefined;
    for (const cmd of commands) {
      if (cmd.length === 0)
        throw new UnsupportedTemplateError(`${where}: empty command in ${expr}`);
      const value = this.command(cmd, piped, dot, where);
      piped = { value };
    }
    return piped!.value;
  }

  private command(cmd: string[], piped: { value: Value } | undefined, dot: Value, where: string) {
    const [head, ...rest] = cmd as [string, ...string[]];
    const args = rest.map((w) => this.operand(w, dot, where));
    if (piped !== undefined) args.push(piped.value);
    if (!/^[a-zA-Z]+$/.test(head)) {
      if (args.length > 0)
        throw new UnsupportedTemplateError(`${where}: ${head} takes no arguments`);
      return this.operand(head, dot, where);
    }
    const arity = (n: number) => {
      if (args.length !== n) {
        throw new UnsupportedTemplateError(
          `${where}: ${head} takes ${n} arguments, got ${args.length}`,
        );
      }
    };
    switch (head) {
      case "include": {
        arity(2);
        const name = args[0];
        const body = typeof name === "string" ? this.defines.get(name) : undefined;
        if (body === undefined) {
          throw new UnsupportedTemplateError(`${where}: no template ${JSON.stringify(name)}`);
        }
        return this.render(body, args[1]);
      }
      case "quote":
        arity(1);
        return JSON.stringify(args[0] === undefined || args[0] === null ? "" : String(args[0]));
      case "default":
        arity(2);
        return truthy(args[1]) ? args[1] : args[0];
      case "toYaml":
        arity(1);
        return stringifyYaml(args[0], { sortMapEntries: true }).replace(/\n$/, "");
      case "nindent": {
        arity(2);
        const n = Number(args[0]);
        if (!Number.isInteger(n))
          throw new UnsupportedTemplateError(`${where}: nindent needs a number`);
        const pad = " ".repeat(n);
        return `\n${String(args[1])
          .split("\n")
          .map((l) => pad + l)
          .join("\n")}`;
      }
      default:
        throw new UnsupportedTemplateError(`${where}: function "${head}" is not supported`);
    }
  }

  private operand(w: string, dot: Value, where: string): Value {
    if (w.startsWith("(")) return this.evaluate(w.slice(1, -1), dot, where);
    if (w.startsWith('"')) return JSON.parse(w) as string;
    if (/^-?[0-9]+$/.test(w)) return Number(w);
    if (w === ".") return dot;
    if (w.startsWith(".")) {
      const path = w.slice(1).split(".");
      const root = path[0];
      if (root !== "Values" && root !== "Release" && root !== "Chart") {
        throw new UnsupportedTemplateError(`${where}: field ${w} is not supported`);
      }
      let v: Value = dot;
      for (let k = 0; k < path.length; k++) {
        if (v === undefined || v === null || typeof v !== "object") {
          throw new UnsupportedTemplateError(
            `${where}: ${w}: .${path.slice(0, k).join(".")} is not a map (nil pointer in helm)`,
          );
        }
        v = (v as Record<string, Value>)[path[k]!];
      }
      if (root !== "Values" && v === undefined) {
        throw new UnsupportedTemplateError(`${where}: field ${w} is not supported`);
      }
      return v;
    }
    throw new UnsupportedTemplateError(`${where}: "${w}" is not supported`);
  }
}

function deepMerge(base: Value, over: Value): Value {
  if (
    typeof base === "object" &&
    base !== null &&
    !Array.isArray(base) &&
    typeof over === "object" &&
    over !== null &&
    !Array.isArray(over)
  ) {
    const out: Record<string, Value> = { ...(base as Record<string, Value>) };
    for (const [k, v] of Object.entries(over)) out[k] = deepMerge(out[k], v);
    return out;
  }
  return over === undefined ? base : over;
}

export interface RenderOptions {
  readonly releaseName: string;
  readonly namespace?: string;
  /** Merged over values.yaml, as `helm template --set`/`-f` would. */
  readonly values?: Record<string, Value>;
}

/** Renders every template of the chart at `chartDir`; file name → rendered text. */
export function renderChart(chartDir: string, options: RenderOptions): Map<string, string> {
  const chart = parseYaml(readFileSync(join(chartDir, "Chart.yaml"), "utf8")) as Record<
    string,
    string
  >;
  const defaults = parseYaml(readFileSync(join(chartDir, "values.yaml"), "utf8")) as Record<
    string,
    Value
  >;
  const ctx: Context = {
    Values: deepMerge(defaults, options.values ?? {}) as Record<string, Value>,
    Release: { Name: options.releaseName, Namespace: options.namespace ?? "default" },
    Chart: {
      Name: String(chart["name"]),
      Version: String(chart["version"]),
      AppVersion: String(chart["appVersion"]),
    },
  };
  const dir = join(chartDir, "templates");
  const files = readdirSync(dir).sort();
  const defines = new Map<string, Node[]>();
  const bodies = new Map<string, Node[]>();
  for (const f of files) {
    if (!f.endsWith(".yaml") && !f.endsWith(".tpl")) {
      throw new UnsupportedTemplateError(`${f}: only .yaml templates and .tpl helpers`);
    }
    const parsed = parseTokens(tokenize(readFileSync(join(dir, f), "utf8"), f));
    for (const [k, v] of parsed.defines) {
      if (defines.has(k)) throw new UnsupportedTemplateError(`${f}: define "${k}" twice`);
      defines.set(k, v);
    }
    if (f.startsWith("_")) {
      if (parsed.body.some((n) => n.kind !== "text" || n.text.trim() !== "")) {
        throw new UnsupportedTemplateError(`${f}: a helper file may hold only defines`);
      }
    } else bodies.set(f, parsed.body);
  }
  const renderer = new Renderer(defines);
  const out = new Map<string, string>();
  for (const [f, body] of bodies) out.set(f, renderer.render(body, ctx));
  return out;
}
