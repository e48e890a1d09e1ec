import { describe, expect, it } from "vitest";
import {
  checkLinearizability,
  type IllegalResult,
  type KvInput,
  type KvOperation,
  type KvOutput,
  kvModel,
} from "../../../src/sim/lincheck/index.js";
import { cas, del, get, numbered, put } from "./support/kv-builders.js";

type KvIllegal = IllegalResult<KvInput, KvOutput>;

function expectIllegal(history: readonly KvOperation[]): KvIllegal {
  const result = checkLinearizability(kvModel, history);
  expect(result.result).toBe("illegal");
  return result as KvIllegal;
}

const ids = (ops: readonly { id: number }[]) => ops.map((op) => op.id);

describe("checkLinearizability on hand-written key-value histories", () => {
  it("accepts the empty history", () => {
    expect(checkLinearizability(kvModel, [])).toMatchObject({ result: "ok", partitions: 0 });
  });

  it("accepts a sequential history that reads back what it wrote", () => {
    const history = [put(1, 0, 1, "x", "a"), get(2, 2, 3, "x", "a"), del(1, 4, 5, "x", true)];
    expect(checkLinearizability(kvModel, [...history, get(2, 6, 7, "x", null)]).result).toBe("ok");
  });

  it("rejects a stale read and names the read as the operation that cannot be placed", () => {
    const history = numbered([
      put(1, 0, 1, "x", "a"),
      put(2, 2, 3, "x", "b"),
      get(3, 4, 5, "x", "a"),
    ]);
    const result = expectIllegal(history);
    expect(result.partition).toBe('key "x"');
    expect(ids(result.longestPrefix.map((s) => s.operation))).toEqual([0, 1]);
    expect(result.longestPrefix.map((s) => s.stateAfter)).toEqual(['{"x": "a"}', '{"x": "b"}']);
    expect(result.stateAfterPrefix).toBe('{"x": "b"}');
    expect(result.stuckOperation.id).toBe(2);
    expect(result.stuckOperationLegalAfterPrefix).toBe(false);
  });

  it("rejects a lost write: a read after the write completed sees nothing", () => {
    const result = expectIllegal(numbered([put(1, 0, 1, "x", "a"), get(2, 2, 3, "x", null)]));
    expect(result.stuckOperation.id).toBe(1);
  });

  it("rejects writes observed in an order contradicting real time", () => {
    const history = [
      put(1, 0, 1, "x", "a"),
      put(1, 2, 3, "x", "b"),
      get(2, 0, 10, "x", "b"),
      get(3, 11, 12, "x", "a"),
    ];
    expectIllegal(history);
  });

  it("rejects reads that see two concurrent writes in both orders", () => {
    // Either order of the two puts is fine on its own, but a then b then a
    // needs a second write of a.
    const history = [
      put(1, 0, 20, "x", "a"),
      put(2, 0, 20, "x", "b"),
      get(3, 1, 2, "x", "a"),
      get(3, 3, 4, "x", "b"),
      get(3, 5, 6, "x", "a"),
    ];
    expectIllegal(history);
  });

  it("rejects a read of a value never written", () => {
    const result = expectIllegal(numbered([put(1, 0, 5, "x", "a"), get(2, 1, 2, "x", "zz")]));
    expect(result.stuckOperation.id).toBe(1);
    expect(result.stuckOperationLegalAfterPrefix).toBe(false);
  });

  it("rejects a compare-and-set that succeeded although the expected value was not there", () => {
    expectIllegal([put(1, 0, 1, "x", "a"), cas(2, 2, 3, "x", "b", "c", true)]);
    expectIllegal([put(1, 0, 1, "x", "a"), cas(2, 2, 3, "x", null, "c", true)]);
    expectIllegal([cas(2, 0, 1, "x", "a", "c", true)]);
  });

  it("rejects a compare-and-set that failed although the expected value was there", () => {
    expectIllegal([put(1, 0, 1, "x", "a"), cas(2, 2, 3, "x", "a", "c", false)]);
  });

  it("accepts compare-and-set used as create-if-absent and as a swap", () => {
    const history = [
      cas(1, 0, 1, "x", null, "a", true),
      cas(2, 2, 3, "x", null, "b", false),
      cas(2, 4, 5, "x", "a", "b", true),
      get(1, 6, 7, "x", "b"),
    ];
    expect(checkLinearizability(kvModel, history).result).toBe("ok");
  });

  it("accepts every order that concurrent operations allow", () => {
    const writes = [put(1, 0, 10, "x", "a"), put(2, 0, 10, "x", "b")];
    for (const seen of ["a", "b"]) {
      expect(checkLinearizability(kvModel, [...writes, get(3, 11, 12, "x", seen)]).result).toBe(
        "ok",
      );
    }
    // A read overlapping both writes may also see the initial state.
    expect(checkLinearizability(kvModel, [...writes, get(3, 0, 12, "x", null)]).result).toBe("ok");
    expect(checkLinearizability(kvModel, [...writes, get(3, 11, 12, "x", null)]).result).toBe(
      "illegal",
    );
  });

  it("accepts a read concurrent with a write seeing either the old or the new value", () => {
    const base = [put(1, 0, 1, "x", "old"), put(1, 2, 8, "x", "new")];
    for (const seen of ["old", "new"]) {
      const history = [...base, get(2, 3, 4, "x", seen), get(2, 5, 6, "x", seen)];
      expect(checkLinearizability(kvModel, history).result).toBe("ok");
    }
    // But once a read saw the new value, a later read cannot see the old one.
    const flipBack = [...base, get(2, 3, 4, "x", "new"), get(3, 5, 6, "x", "old")];
    expect(checkLinearizability(kvModel, flipBack).result).toBe("illegal");
  });

  it("treats operations whose intervals only touch as concurrent", () => {
    expect(
      checkLinearizability(kvModel, [put(1, 0, 5, "x", "a"), get(2, 5, 6, "x", null)]).result,
    ).toBe("ok");
    expect(
      checkLinearizability(kvModel, [put(1, 0, 5, "x", "a"), get(2, 6, 7, "x", null)]).result,
    ).toBe("illegal");
  });

  it("checks what delete reports when it reports it, and only its effect otherwise", () => {
    const written = put(1, 0, 1, "x", "a");
    expect(checkLinearizability(kvModel, [written, del(2, 2, 3, "x", true)]).result).toBe("ok");
    expect(checkLinearizability(kvModel, [written, del(2, 2, 3, "x", false)]).result).toBe(
      "illegal",
    );
    expect(checkLinearizability(kvModel, [del(2, 2, 3, "x", true)]).result).toBe("illegal");
    const unreported = [written, del(2, 2, 3, "x"), get(1, 4, 5, "x", null)];
    expect(checkLinearizability(kvModel, unreported).result).toBe("ok");
    const resurrected = [written, del(2, 2, 3, "x"), get(1, 4, 5, "x", "a")];
    expect(checkLinearizability(kvModel, resurrected).result).toBe("illegal");
  });

  it("checks keys independently and names the key that failed", () => {
    const history = [
      put(1, 0, 1, "x", "a"),
      put(2, 0, 1, "y", "b"),
      get(1, 2, 3, "x", "a"),
      get(2, 2, 3, "y", "stale"),
      get(3, 2, 3, "z", null),
    ];
    const result = expectIllegal(history);
    expect(result.partition).toBe('key "y"');
    expect(result.partitions).toBe(3);
    expect(result.operations.map((op) => op.input.key)).toEqual(["y", "y"]);
    expect(checkLinearizability(kvModel, history.slice(0, 3))).toMatchObject({
      result: "ok",
      partitions: 2,
    });
  });

  it("reports the caller's ids, and indexes when ids are absent", () => {
    const withIds = [
      { ...put(1, 0, 1, "x", "a"), id: 70 },
      { ...get(2, 2, 3, "x", "b"), id: 71 },
    ];
    expect(expectIllegal(withIds).stuckOperation.id).toBe(71);
    const withoutIds = [put(1, 0, 1, "x", "a"), get(2, 2, 3, "x", "b")];
    expect(expectIllegal(withoutIds).stuckOperation.id).toBe(1);
  });

  it("reports the deepest prefix and every operation that could have come next", () => {
    const history = numbered([
      put(1, 0, 1, "x", "a"),
      put(2, 2, 9, "x", "b"),
      get(3, 2, 3, "x", "z"),
      get(4, 2, 3, "x", "y"),
    ]);
    const result = expectIllegal(history);
    expect(ids(result.longestPrefix.map((s) => s.operation))).toEqual([0, 1]);
    expect(result.stuckOperation.id).toBe(2);
    expect(ids(result.candidates)).toEqual([2, 3]);
  });
});
