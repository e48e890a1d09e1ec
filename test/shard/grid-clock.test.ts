import { describe, expect, it } from "vitest";
import { gridClock, ManualClock } from "../../src/clock.js";

describe("gridClock", () => {
  it("fires every timer on the next grid point, never early, all of a point in one base timer", async () => {
    const base = new ManualClock(3);
    const grid = gridClock(base, 50);
    const fired: [string, number][] = [];
    grid.setTimer(() => fired.push(["a", base.now()]), 10); // due 13 → 50
    grid.setTimer(() => fired.push(["b", base.now()]), 47); // due 50 → 50
    grid.setTimer(() => fired.push(["c", base.now()]), 48); // due 51 → 100
    expect(base.pendingTimers).toBe(2);
    await base.advance(46);
    expect(fired).toEqual([]);
    await base.advance(1);
    expect(fired).toEqual([
      ["a", 50],
      ["b", 50],
    ]);
    await base.advance(50);
    expect(fired.at(-1)).toEqual(["c", 100]);
    expect(grid.now()).toBe(base.now());
  });

  it("cancels one timer only; a throwing timer does not stop the others of its point", async () => {
    const base = new ManualClock(0);
    const grid = gridClock(base, 10);
    const fired: string[] = [];
    const same = () => fired.push("same");
    const cancelFirst = grid.setTimer(same, 5);
    grid.setTimer(same, 5);
    grid.setTimer(() => {
      throw new Error("boom");
    }, 5);
    grid.setTimer(() => fired.push("after"), 5);
    cancelFirst();
    await expect(base.advance(10)).rejects.toThrow("boom");
    expect(fired).toEqual(["same", "after"]);
    expect(() => gridClock(base, 0)).toThrow(RangeError);
  });
});
