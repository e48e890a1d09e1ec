/** Flags of `npm run bench -- adversary`. */
import { parseArgs } from "node:util";

export interface AdversaryOptions {
  /** Each round runs the watch phase, then the flood phase; medians are over rounds. */
  readonly rounds: number;
  readonly watchers: number;
  /** 1 MiB puts per watch phase. */
  readonly puts: number;
  /** `--max-total-watch-bytes` of every member. */
  readonly watchBudgetBytes: number;
  /** What a member may grow beyond its watch budget: connections, the puts' own data, GC slack. */
  readonly marginBytes: number;
  readonly floodConnections: number;
  readonly floodMs: number;
  readonly keepDataDir: boolean;
}

const MiB = 1024 * 1024;

export const USAGE = `usage: npm run bench -- adversary [--quick] [--rounds N] [--watchers N] [--puts N]
  [--watch-budget-mb N] [--margin-mb N] [--flood-connections N] [--flood-ms N] [--keep-data-dir]
defaults: 3 rounds, 1000 watchers, 8 puts of 1 MiB, 64 MiB watch budget, 256 MiB margin,
          1500 flood connections held for 10000 ms; --quick: 1 round, 200 watchers, 300 connections, 3000 ms`;

export class OptionsError extends Error {}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new OptionsError(`--${name} must be a positive integer, got ${JSON.stringify(text)}`);
  }
  return n;
}

export function parseAdversaryOptions(argv: readonly string[]): AdversaryOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        quick: { type: "boolean" },
        rounds: { type: "string" },
        watchers: { type: "string" },
        puts: { type: "string" },
        "watch-budget-mb": { type: "string" },
        "margin-mb": { type: "string" },
        "flood-connections": { type: "string" },
        "flood-ms": { type: "string" },
        "keep-data-dir": { type: "boolean" },
      },
      strict: true,
    }).values;
  } catch (err) {
    throw new OptionsError((err as Error).message);
  }
  const quick = values["quick"] === true;
  const text = (name: string) => values[name] as string | undefined;
  return {
    rounds: positive("rounds", text("rounds"), quick ? 1 : 3),
    watchers: positive("watchers", text("watchers"), quick ? 200 : 1000),
    puts: positive("puts", text("puts"), 8),
    watchBudgetBytes: positive("watch-budget-mb", text("watch-budget-mb"), 64) * MiB,
    marginBytes: positive("margin-mb", text("margin-mb"), 256) * MiB,
    floodConnections: positive("flood-connections", text("flood-connections"), quick ? 300 : 1500),
    floodMs: positive("flood-ms", text("flood-ms"), quick ? 3000 : 10_000),
    keepDataDir: values["keep-data-dir"] === true,
  };
}
