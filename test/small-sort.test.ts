import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ascending, codeUnitOrder, sortSmall } from "../src/small-sort.js";

describe("sortSmall: the order of Array.prototype.sort, without its allocations for a few items", () => {
  it("orders numbers as sort does, at every length, stable for equal keys", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ k: fc.integer({ min: -5, max: 5 }), tag: fc.nat() }), {
          maxLength: 40,
        }),
        (items) => {
          const byKey = (a: { k: number }, b: { k: number }) => ascending(a.k, b.k);
          const mine = sortSmall([...items], byKey);
          expect(mine).toEqual([...items].sort(byKey));
        },
      ),
    );
  });

  it("orders strings by UTF-16 code units, as the default sort", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "binary" }), { maxLength: 24 }), (keys) => {
        expect(sortSmall([...keys], codeUnitOrder)).toEqual([...keys].sort());
      }),
    );
  });

  it("sorts in place and returns the same array", () => {
    const a = [3, 1, 2];
    expect(sortSmall(a, ascending)).toBe(a);
    expect(a).toEqual([1, 2, 3]);
  });
});
