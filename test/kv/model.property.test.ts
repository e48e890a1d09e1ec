import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ModelKv } from "./model.js";
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

describe("range options against the reference model", () => {
  it("sorts, limits, and counts like a sort-then-slice of the model", () => {
    const targets = ["key", "version", "create", "mod", "value"] as const;
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 30 }),
        fc.constantFrom(...targets),
        fc.constantFrom("ascend" as const, "descend" as const),
        fc.nat({ max: 6 }),
        (ops, sortTarget, sortOrder, limit) => {
          const { store, model } = runBoth(ops);
          const r = store.range({
            key: Uint8Array.of(0),
            rangeEnd: Uint8Array.of(0),
            sortTarget,
            sortOrder,
            limit,
          });
          const field = (kv: ModelKv): number | string =>
            sortTarget === "key"
              ? kv.key
              : sortTarget === "version"
                ? kv.version
                : sortTarget === "create"
                  ? kv.createRevision
                  : sortTarget === "mod"
                    ? kv.modRevision
                    : Buffer.from(kv.value, "utf8").toString("latin1");
          const all = model.range("\u0000", "\u00ff", model.revision);
          const sorted = [...all].sort((a, b) => {
            const x = field(a);
            const y = field(b);
            const c = x < y ? -1 : x > y ? 1 : 0;
            return sortOrder === "ascend" ? c : -c;
          });
          const expected = limit > 0 ? sorted.slice(0, limit) : sorted;
          expect(r.count).toBe(all.length);
          expect(r.more).toBe(expected.length < all.length);
          expect(r.kvs.map((kv) => text(kv.key))).toEqual(expected.map((kv) => kv.key));
        },
      ),
      { seed: 99, numRuns: 200 },
    );
  });

  it("is deterministic: the same commands give byte-identical snapshots", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 30 }), async (ops) => {
        const bytes = async (): Promise<Buffer> => {
          const { store } = runBoth(ops);
          const chunks: Uint8Array[] = [];
          for await (const c of store.snapshot()) chunks.push(c);
          return Buffer.concat(chunks);
        };
        expect((await bytes()).equals(await bytes())).toBe(true);
      }),
      { seed: 5, numRuns: 50 },
    );
  });
});
