import { describe, expect, it } from "vitest";
import {
  checkLinearizability,
  type KvOperation,
  kvModel,
} from "../../../src/sim/lincheck/index.js";
import { get, put } from "./support/kv-builders.js";

/** An operation whose client timed out: no ret, no output. */
const lost = (clientId: number, call: number, input: KvOperation["input"]): KvOperation => ({
  clientId,
  call,
  input,
});

const verdict = (history: readonly KvOperation[]) => checkLinearizability(kvModel, history).result;

describe("operations with unknown outcome", () => {
  it("are assumed applied when a later read sees their value", () => {
    const history = [
      put(1, 0, 1, "x", "a"),
      lost(2, 2, { op: "put", key: "x", value: "b" }),
      get(3, 10, 11, "x", "b"),
    ];
    expect(verdict(history)).toBe("ok");
  });

  it("are assumed not applied when no read ever sees them", () => {
    const history = [
      put(1, 0, 1, "x", "a"),
      lost(2, 2, { op: "put", key: "x", value: "b" }),
      get(3, 10, 11, "x", "a"),
      get(3, 12, 13, "x", "a"),
    ];
    expect(verdict(history)).toBe("ok");
  });

  it("may take effect long after their client moved on", () => {
    const history = [
      lost(1, 0, { op: "put", key: "x", value: "late" }),
      put(1, 10, 11, "x", "c"),
      get(2, 12, 13, "x", "c"),
      get(2, 14, 15, "x", "late"),
    ];
    expect(verdict(history)).toBe("ok");
  });

  it("cannot take effect before they were called", () => {
    const history = [get(1, 0, 1, "x", "b"), lost(2, 2, { op: "put", key: "x", value: "b" })];
    expect(verdict(history)).toBe("illegal");
  });

  it("take effect at most once: a value seen and then overwritten cannot come back", () => {
    const history = [
      put(1, 0, 1, "x", "a"),
      lost(2, 2, { op: "put", key: "x", value: "b" }),
      get(3, 3, 4, "x", "b"),
      get(3, 5, 6, "x", "a"),
    ];
    expect(verdict(history)).toBe("illegal");
  });

  it("follow the model when applied: a lost compare-and-set only swaps on a match", () => {
    const base = [
      put(1, 0, 1, "x", "a"),
      lost(2, 2, { op: "cas", key: "x", expected: "a", value: "b" }),
    ];
    expect(verdict([...base, get(3, 5, 6, "x", "b")])).toBe("ok");
    expect(verdict([...base, get(3, 5, 6, "x", "a")])).toBe("ok");
    const mismatch = [
      put(1, 0, 1, "x", "a"),
      lost(2, 2, { op: "cas", key: "x", expected: "zz", value: "b" }),
      get(3, 5, 6, "x", "b"),
    ];
    expect(verdict(mismatch)).toBe("illegal");
  });

  it("follow the model when applied: a lost delete may or may not have removed the key", () => {
    const base = [put(1, 0, 1, "x", "a"), lost(2, 2, { op: "delete", key: "x" })];
    expect(verdict([...base, get(3, 5, 6, "x", null)])).toBe("ok");
    expect(verdict([...base, get(3, 5, 6, "x", "a")])).toBe("ok");
    expect(verdict([...base, get(3, 5, 6, "x", null), get(3, 7, 8, "x", "a")])).toBe("illegal");
  });

  it("impose nothing when they are reads", () => {
    const history = [put(1, 0, 1, "x", "a"), lost(2, 2, { op: "get", key: "x" })];
    expect(verdict(history)).toBe("ok");
  });

  it("cannot explain a value nobody wrote, however many are pending", () => {
    const history: KvOperation[] = [];
    for (let i = 0; i < 10; i++) {
      history.push(lost(i, i, { op: "put", key: "x", value: `v${i}` }));
    }
    history.push(get(20, 30, 31, "x", "never"));
    const result = checkLinearizability(kvModel, history, { maxSteps: 1_000_000 });
    expect(result.result).toBe("illegal");
  });

  it("are applied in whatever order the reads require", () => {
    const history: KvOperation[] = [];
    for (let i = 0; i < 12; i++) {
      history.push(lost(i, 0, { op: "put", key: "x", value: `v${i}` }));
    }
    // Reads see the lost writes in the reverse of their call order.
    history.push(get(20, 10, 11, "x", "v9"));
    history.push(get(20, 12, 13, "x", "v4"));
    history.push(get(20, 14, 15, "x", "v7"));
    expect(verdict(history)).toBe("ok");
    // Once v4 has been seen after v9, seeing v9 again needs a second write of it.
    history.push(get(20, 16, 17, "x", "v9"));
    expect(checkLinearizability(kvModel, history, { maxSteps: 1_000_000 }).result).toBe("illegal");
  });

  it("do not slow the check down when none of them is ever observed", () => {
    const history: KvOperation[] = [put(0, 0, 1, "x", "base")];
    for (let i = 0; i < 200; i++) {
      history.push(lost(1 + (i % 7), 2 + i, { op: "put", key: "x", value: `lost${i}` }));
    }
    history.push(get(9, 500, 501, "x", "base"));
    const result = checkLinearizability(kvModel, history, { maxSteps: 10_000 });
    expect(result.result).toBe("ok");
  });
});
