import type { CmdArg, GoldenCase } from "./datadriven.js";
import { GoldenFormatError } from "./datadriven.js";

/**
 * Typed access to a case's arguments. Every argument must be read, so a
 * misspelt key fails the case instead of being silently ignored.
 */
export class Args {
  private readonly unread: Set<string>;
  private readonly byKey = new Map<string, CmdArg>();

  constructor(private readonly c: GoldenCase) {
    for (const a of c.args) {
      if (this.byKey.has(a.key)) this.fail(`argument ${a.key} given twice`);
      this.byKey.set(a.key, a);
    }
    this.unread = new Set(this.byKey.keys());
  }

  private fail(msg: string): never {
    throw new GoldenFormatError(`line ${this.c.line} (${this.c.command}): ${msg}`);
  }

  private take(key: string): CmdArg | undefined {
    this.unread.delete(key);
    return this.byKey.get(key);
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  flag(key: string): boolean {
    const a = this.take(key);
    if (a === undefined) return false;
    if (a.values.length === 0) return true;
    const v = a.values[0];
    if (a.values.length === 1 && (v === "true" || v === "false")) return v === "true";
    return this.fail(`${key} must be a bare flag, true or false`);
  }

  strOr(key: string, dflt: string): string {
    const a = this.take(key);
    if (a === undefined) return dflt;
    if (a.values.length !== 1) this.fail(`${key} takes one value`);
    return a.values[0]!;
  }

  int(key: string): number {
    const v = this.intOr(key, undefined);
    if (v === undefined) this.fail(`missing ${key}=`);
    return v;
  }

  intOr<T extends number | undefined>(key: string, dflt: T): number | T {
    const a = this.take(key);
    if (a === undefined) return dflt;
    if (a.values.length !== 1) this.fail(`${key} takes one value`);
    return parseIntStrict(a.values[0]!, () => this.fail(`${key}=${a.values[0]} is not an integer`));
  }

  /** A list of integers; `_` stands for "absent" and reads as undefined. */
  ints(key: string): (number | undefined)[] {
    const a = this.take(key);
    if (a === undefined) return [];
    return a.values.map((v) =>
      v === "_" ? undefined : parseIntStrict(v, () => this.fail(`${key} has non-integer ${v}`)),
    );
  }

  /** Raw values of a list argument. */
  list(key: string): readonly string[] {
    return this.take(key)?.values ?? [];
  }

  /** Fails the case if an argument was given that the command never read. */
  done(): void {
    if (this.unread.size > 0) this.fail(`unknown argument(s) ${[...this.unread].join(", ")}`);
  }
}

export function parseIntStrict(text: string, onError: () => never): number {
  if (text === "max") return Number.MAX_SAFE_INTEGER;
  if (!/^-?\d+$/.test(text)) onError();
  const n = Number(text);
  if (!Number.isSafeInteger(n)) onError();
  return n;
}

/** Node ids and indexes print the same way everywhere: sorted, space-separated, in parens. */
export function idList(ids: Iterable<number>): string {
  return `(${[...ids].sort((a, b) => a - b).join(" ")})`;
}

export function showIndex(n: number): string {
  return n === Number.MAX_SAFE_INTEGER ? "max" : String(n);
}
