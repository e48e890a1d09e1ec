import { describe, expect, it } from "vitest";
import type { KvOperation } from "../../src/sim/lincheck/index.js";
import { judge, lostWrites } from "./verdict.js";

const put = (id: number, key: string, value: string, call: number, ret?: number): KvOperation => ({
  id,
  clientId: id,
  input: { op: "put", key, value },
  call,
  ...(ret !== undefined && { ret, output: {} }),
});
const get = (id: number, key: string, value: string | null, call: number, ret: number) => ({
  id,
  clientId: id,
  input: { op: "get" as const, key },
  call,
  ret,
  output: { value },
});

describe("the nemesis verdict", () => {
  it("counts an acknowledged last write the final read does not show as lost", () => {
    const history = [put(1, "k", "a", 0, 5), put(2, "k", "b", 10, 15)];
    expect(lostWrites(history, new Map([["k", "b"]]))).toEqual({ checked: 1, lost: [] });
    const lost = lostWrites(history, new Map([["k", "a"]]));
    expect(lost.checked).toBe(1);
    expect(lost.lost).toHaveLength(1);
    expect(lost.lost[0]).toContain('put("k", "b")');
  });

  it("does not hold a write to surviving when a concurrent or unknown write may follow it", () => {
    // Overlapping acknowledged writes: either may be last.
    const overlapping = [put(1, "k", "a", 0, 20), put(2, "k", "b", 10, 15)];
    expect(lostWrites(overlapping, new Map([["k", "a"]])).checked).toBe(0);
    // An unknown write called before the acknowledged one may land after it.
    const unknown = [put(1, "k", "a", 0), put(2, "k", "b", 10, 15)];
    expect(lostWrites(unknown, new Map([["k", "a"]]))).toEqual({ checked: 0, lost: [] });
  });

  it("finds a stale read after an acknowledged write not linearizable", () => {
    const history = [put(1, "k", "a", 0, 5), put(2, "k", "b", 10, 15), get(3, "k", "a", 20, 25)];
    const verdict = judge(history, new Map([["k", "b"]]), 10_000);
    expect(verdict.lincheck).toBe("illegal");
    expect(verdict.explanation).toContain('get("k")');
    expect(judge(history.slice(0, 2), new Map([["k", "b"]]), 10_000).lincheck).toBe("ok");
  });
});
