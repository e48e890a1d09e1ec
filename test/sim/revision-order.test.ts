import { describe, expect, it } from "vitest";
import { checkRevisionOrder } from "../../src/sim/revision-order.js";
import type { RevisionSeen } from "../../src/sim/workload.js";

const read = (call: number, ret: number, revision: number): RevisionSeen => ({
  call,
  ret,
  revision,
  wrote: false,
});
const write = (call: number, ret: number, revision: number): RevisionSeen => ({
  call,
  ret,
  revision,
  wrote: true,
});

describe("checkRevisionOrder", () => {
  it("passes when revisions follow real time", () => {
    const seen = [write(0, 1, 2), read(2, 3, 2), read(4, 5, 3), write(6, 7, 4), read(8, 9, 4)];
    expect(checkRevisionOrder(seen)).toBeUndefined();
    expect(checkRevisionOrder([])).toBeUndefined();
  });

  it("does not depend on the order operations are listed in", () => {
    expect(checkRevisionOrder([read(8, 9, 4), write(6, 7, 4), write(0, 1, 2)])).toBeUndefined();
    expect(checkRevisionOrder([read(4, 5, 1), write(0, 1, 2)])).toBeDefined();
  });

  it("reports a read called after another operation returned that sees a lower revision", () => {
    const breach = checkRevisionOrder([write(0, 1, 5), read(2, 3, 4)]);
    expect(breach).toBe(
      "an operation called at t=2 saw revision 4, but one that returned at t=1 had already seen revision 5",
    );
  });

  it("compares with the highest revision of everything that returned before the call", () => {
    // Two overlapping writes; the one that returned last got the lower
    // revision, which alone would allow the read at t=10.
    const seen = [write(0, 4, 7), write(2, 3, 3), read(10, 11, 5)];
    expect(checkRevisionOrder(seen.slice(0, 2))).toBeUndefined();
    expect(checkRevisionOrder(seen)).toContain("saw revision 5");
  });

  it("requires a write to create a revision above everything seen before its call", () => {
    expect(checkRevisionOrder([read(0, 1, 5), write(2, 3, 5)])).toBe(
      "an operation called at t=2 wrote revision 5, but one that returned at t=1 had already seen revision 5",
    );
    expect(checkRevisionOrder([read(0, 1, 5), write(2, 3, 6)])).toBeUndefined();
    // A read may see the same revision again: nothing was written in between.
    expect(checkRevisionOrder([read(0, 1, 5), read(2, 3, 5)])).toBeUndefined();
  });

  it("leaves overlapping operations unconstrained", () => {
    // The second was called before the first returned: either may have gone first.
    expect(checkRevisionOrder([write(0, 10, 9), read(5, 12, 3)])).toBeUndefined();
    expect(checkRevisionOrder([read(0, 10, 9), write(5, 12, 3)])).toBeUndefined();
    // But a third called after both returned is bound by the higher.
    expect(checkRevisionOrder([write(0, 10, 9), read(5, 12, 3), read(13, 14, 8)])).toBeDefined();
  });
});
