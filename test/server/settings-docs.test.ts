/**
 * docs/server.md's settings table against the settings `conclave serve`
 * really takes (config-fields.ts): every row names a real flag with its own
 * variable and config key, and every setting has exactly one row.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FIELDS } from "../../src/server/runtime/config-fields.js";

interface Row {
  readonly flag: string;
  readonly env: string;
  readonly key: string;
}

function settingsRows(markdown: string): Row[] {
  const rows: Row[] = [];
  for (const m of markdown.matchAll(
    /^\| `--([a-z0-9-]+)`\s*\| `([A-Z0-9_]+)`\s*\| `([A-Za-z0-9]+)`/gm,
  )) {
    rows.push({ flag: m[1]!, env: m[2]!, key: m[3]! });
  }
  return rows;
}

describe("docs/server.md settings table", () => {
  const rows = settingsRows(readFileSync("docs/server.md", "utf8"));

  it("names only real settings, each with its own variable and config key", () => {
    const byFlag = new Map(FIELDS.map((f) => [f.flag, f]));
    const wrong = rows.filter((r) => {
      const f = byFlag.get(r.flag);
      return f === undefined || f.env !== r.env || String(f.key) !== r.key;
    });
    expect(wrong).toEqual([]);
  });

  it("has one row for every setting", () => {
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r.flag, (counts.get(r.flag) ?? 0) + 1);
    const missing = FIELDS.filter((f) => !counts.has(f.flag)).map((f) => f.flag);
    const repeated = [...counts].filter(([, n]) => n > 1).map(([flag]) => flag);
    expect({ missing, repeated }).toEqual({ missing: [], repeated: [] });
  });

  it("reports a row for a setting that does not exist", () => {
    const planted = settingsRows(
      "| `--max-watchers-per-address` | `CONCLAVE_MAX_WATCHERS_PER_ADDRESS` | `maxWatchersPerAddress` | 1000 | x |\n",
    );
    expect(planted).toHaveLength(1);
    expect(FIELDS.some((f) => f.flag === planted[0]!.flag)).toBe(false);
  });
});
