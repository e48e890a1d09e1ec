import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectSameRanges, opArb, runBoth, text } from "./ops.js";

const SEED = 20261127;

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
