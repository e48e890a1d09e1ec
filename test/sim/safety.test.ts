import { describe, expect, it } from "vitest";
import { EntryType } from "../../src/raft/core/types.js";
import { MemoryStorage } from "../../src/raft/storage/memory.js";
import { SafetyChecker, SafetyViolation } from "../../src/sim/safety.js";

const entry = (index: number, term: number, data = "") => ({
  index,
  term,
  type: EntryType.Normal,
  data: new TextEncoder().encode(data),
});

function disk(entries: ReturnType<typeof entry>[]): MemoryStorage {
  const d = new MemoryStorage();
  d.append(entries);
  return d;
}

describe("safety checker", () => {
  it("flags two leaders in one term", () => {
    const s = new SafetyChecker();
    s.leaderElected(1, 3);
    s.leaderElected(1, 3);
    expect(() => s.leaderElected(2, 3)).toThrow(/election safety/);
  });

  it("flags two different entries applied at one index", () => {
    const s = new SafetyChecker();
    s.entryApplied(1, entry(5, 2, "a"));
    s.entryApplied(2, entry(5, 2, "a"));
    expect(() => s.entryApplied(3, entry(5, 3, "b"))).toThrow(SafetyViolation);
  });

  it("flags a commit index that goes backwards, and applied beyond commit", () => {
    const s = new SafetyChecker();
    s.progress(1, 1, 10, 10);
    expect(() => s.progress(1, 1, 9, 9)).toThrow(/commit monotonicity/);
    // A restart (new epoch) may start from the persisted, lower commit.
    s.progress(1, 2, 8, 8);
    expect(() => s.progress(2, 1, 5, 6)).toThrow(/applied <= committed/);
  });

  it("flags a leader missing a committed entry", () => {
    const s = new SafetyChecker();
    s.entryApplied(1, entry(1, 1, "a"));
    s.entryApplied(1, entry(2, 1, "b"));
    expect(() => s.leaderLog(2, 2, disk([entry(1, 1, "a")]))).toThrow(/leader completeness/);
    expect(() => s.leaderLog(2, 2, disk([entry(1, 1, "a"), entry(2, 2, "c")]))).toThrow(
      /leader completeness/,
    );
    s.leaderLog(3, 2, disk([entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 2, "c")]));
  });

  it("flags logs that agree at an index but differ before it", () => {
    const s = new SafetyChecker();
    const a = disk([entry(1, 1, "x"), entry(2, 1, "y"), entry(3, 2, "z")]);
    const b = disk([entry(1, 1, "x"), entry(2, 1, "DIFFERENT"), entry(3, 2, "z")]);
    const c = disk([entry(1, 1, "x"), entry(2, 1, "y"), entry(3, 3, "w")]);
    s.logMatching(
      new Map([
        [1, a],
        [3, c],
      ]),
    );
    expect(() =>
      s.logMatching(
        new Map([
          [1, a],
          [2, b],
        ]),
      ),
    ).toThrow(/log matching/);
  });
});
