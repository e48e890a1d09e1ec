import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { utf8 } from "../../src/kv/bytes.js";
import { CompactedError, type KvStore, type RangeResult } from "../../src/kv/index.js";
import type { KvModel } from "./model.js";
import { opArb, runBoth, text } from "./ops.js";

const SEED = 20261127;

function simplify(r: RangeResult) {
  return r.kvs.map((kv) => ({ ...kv, key: text(kv.key), value: text(kv.value) }));
}

/** Every range the tests ask: whole space, each single key, and a few intervals. */
const QUERIES: [string, string | undefined][] = [
  ["a", "\u00ff"],
  ["a", undefined],
  ["ab", undefined],
  ["b", undefined],
  ["c/1", undefined],
  ["a", "b"],
  ["ab", "c"],
  ["c/", "c0"],
];

export function expectSameRanges(store: KvStore, model: KvModel): void {
  for (let rev = 1; rev <= model.revision; rev++) {
    for (const [key, end] of QUERIES) {
      const req = { key: utf8(key), revision: rev, ...(end ? { rangeEnd: utf8(end) } : {}) };
      if (rev < model.compactRevision) {
        expect(() => store.range(req)).toThrow(CompactedError);
        continue;
      }
      expect(simplify(store.range(req)), `range ${key}..${end} @${rev}`).toEqual(
        model.range(key, end, rev),
      );
    }
  }
}

describe("KvStore against the reference model", () => {
  it("answers every range at every retained revision like the model", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const { store, model } = runBoth(ops);
        expectSameRanges(store, model);
      }),
      { seed: SEED, numRuns: 150 },
    );
  });

  it("keeps lease attachments like the model", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
        const { store, model } = runBoth(ops);
        const fromStore = store.leases().map((l) => [l.id, l.keys.map(text)]);
        const fromModel = [...model.leases]
          .sort((a, b) => a[0] - b[0])
          .map(([id, keys]) => [id, [...keys].sort()]);
        expect(fromStore).toEqual(fromModel);
      }),
      { seed: SEED, numRuns: 150 },
    );
  });
});
