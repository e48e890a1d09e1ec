import { describe, expect, it } from "vitest";
import {
  type IdentifiedOperation,
  type KvInput,
  type KvOutput,
  type KvState,
  kvModel,
} from "../../../src/sim/lincheck/index.js";

const state = (entries: Record<string, string>): KvState => new Map(Object.entries(entries));

function step(from: KvState, input: KvInput, output: KvOutput | undefined) {
  const result = kvModel.step(from, input, output);
  return { ok: result.ok, next: result.ok ? kvModel.stateKey(result.next) : undefined };
}

describe("kvModel.step", () => {
  const x = (value: string) => state({ x: value });

  it("reads the current value, null when absent", () => {
    expect(step(x("a"), { op: "get", key: "x" }, { value: "a" })).toEqual({
      ok: true,
      next: '{"x": "a"}',
    });
    expect(step(x("a"), { op: "get", key: "x" }, { value: "b" }).ok).toBe(false);
    expect(step(x("a"), { op: "get", key: "y" }, { value: null }).ok).toBe(true);
    expect(step(x("a"), { op: "get", key: "y" }, { value: "a" }).ok).toBe(false);
  });

  it("writes with put whatever was there", () => {
    expect(step(state({}), { op: "put", key: "x", value: "a" }, {})).toEqual({
      ok: true,
      next: '{"x": "a"}',
    });
    expect(step(x("a"), { op: "put", key: "x", value: "b" }, {}).next).toBe('{"x": "b"}');
  });

  it("deletes, checking `existed` only when reported", () => {
    expect(step(x("a"), { op: "delete", key: "x" }, { existed: true })).toEqual({
      ok: true,
      next: "{}",
    });
    expect(step(x("a"), { op: "delete", key: "x" }, { existed: false }).ok).toBe(false);
    expect(step(state({}), { op: "delete", key: "x" }, { existed: false })).toEqual({
      ok: true,
      next: "{}",
    });
    expect(step(state({}), { op: "delete", key: "x" }, { existed: true }).ok).toBe(false);
    expect(step(x("a"), { op: "delete", key: "x" }, {}).next).toBe("{}");
  });

  it("swaps with cas exactly when the expected value (or absence) is there", () => {
    const swap = (expected: string | null): KvInput => ({
      op: "cas",
      key: "x",
      expected,
      value: "new",
    });
    expect(step(x("a"), swap("a"), { ok: true }).next).toBe('{"x": "new"}');
    expect(step(x("a"), swap("a"), { ok: false }).ok).toBe(false);
    expect(step(x("a"), swap("b"), { ok: false }).next).toBe('{"x": "a"}');
    expect(step(x("a"), swap("b"), { ok: true }).ok).toBe(false);
    expect(step(state({}), swap(null), { ok: true }).next).toBe('{"x": "new"}');
    expect(step(x("a"), swap(null), { ok: true }).ok).toBe(false);
  });

  it("applies an operation with unknown outcome as it would have run", () => {
    expect(step(x("a"), { op: "get", key: "x" }, undefined).next).toBe('{"x": "a"}');
    const casUnknown: KvInput = { op: "cas", key: "x", expected: "a", value: "b" };
    expect(step(x("a"), casUnknown, undefined).next).toBe('{"x": "b"}');
    expect(step(x("z"), casUnknown, undefined).next).toBe('{"x": "z"}');
    expect(step(x("a"), { op: "delete", key: "x" }, undefined).next).toBe("{}");
  });

  it("never mutates the state it is given", () => {
    const before = x("a");
    kvModel.step(before, { op: "put", key: "x", value: "b" }, {});
    kvModel.step(before, { op: "delete", key: "x" }, {});
    expect([...before.entries()]).toEqual([["x", "a"]]);
  });
});

describe("kvModel hooks", () => {
  it("calls reads, failed swaps and deletes of absent keys read-only", () => {
    expect(kvModel.isReadOnly?.({ op: "get", key: "x" }, { value: "a" })).toBe(true);
    expect(kvModel.isReadOnly?.({ op: "get", key: "x" }, undefined)).toBe(true);
    const cas: KvInput = { op: "cas", key: "x", expected: "a", value: "b" };
    expect(kvModel.isReadOnly?.(cas, { ok: false })).toBe(true);
    expect(kvModel.isReadOnly?.(cas, { ok: true })).toBe(false);
    expect(kvModel.isReadOnly?.(cas, undefined)).toBe(false);
    expect(kvModel.isReadOnly?.({ op: "delete", key: "x" }, { existed: false })).toBe(true);
    expect(kvModel.isReadOnly?.({ op: "delete", key: "x" }, {})).toBe(false);
    expect(kvModel.isReadOnly?.({ op: "put", key: "x", value: "a" }, {})).toBe(false);
  });

  it("gives equal input keys only to inputs with the same effect", () => {
    const key = (input: KvInput) => kvModel.inputKey?.(input);
    expect(key({ op: "put", key: "x", value: "a" })).toBe(key({ op: "put", key: "x", value: "a" }));
    expect(key({ op: "put", key: "x", value: "a" })).not.toBe(
      key({ op: "put", key: "x", value: "b" }),
    );
    expect(key({ op: "put", key: "x", value: "a" })).not.toBe(
      key({ op: "put", key: "y", value: "a" }),
    );
    expect(key({ op: "cas", key: "x", expected: null, value: "a" })).not.toBe(
      key({ op: "cas", key: "x", expected: "null", value: "a" }),
    );
  });

  it("partitions by key and labels each part with its key", () => {
    const ops: IdentifiedOperation<KvInput, KvOutput>[] = [
      { id: 0, clientId: 1, call: 0, input: { op: "get", key: "b" } },
      { id: 1, clientId: 1, call: 1, input: { op: "put", key: "a", value: "v" } },
      { id: 2, clientId: 2, call: 2, input: { op: "delete", key: "b" } },
    ];
    const parts = kvModel.partition?.(ops) ?? [];
    expect(parts.map((part) => part.map((op) => op.id))).toEqual([[0, 2], [1]]);
    expect(parts.map((part) => kvModel.partitionLabel?.(part))).toEqual(['key "b"', 'key "a"']);
  });

  it("simplifies written values nobody observes into one stand-in", () => {
    const ops: IdentifiedOperation<KvInput, KvOutput>[] = [
      {
        id: 0,
        clientId: 1,
        call: 0,
        ret: 1,
        input: { op: "put", key: "x", value: "seen" },
        output: {},
      },
      {
        id: 1,
        clientId: 1,
        call: 2,
        ret: 3,
        input: { op: "put", key: "x", value: "lost1" },
        output: {},
      },
      { id: 2, clientId: 2, call: 4, input: { op: "put", key: "x", value: "lost2" } },
      {
        id: 3,
        clientId: 2,
        call: 5,
        ret: 6,
        input: { op: "cas", key: "x", expected: "exp", value: "lost3" },
        output: { ok: false },
      },
      {
        id: 4,
        clientId: 3,
        call: 7,
        ret: 8,
        input: { op: "get", key: "x" },
        output: { value: "seen" },
      },
      {
        id: 5,
        clientId: 3,
        call: 9,
        ret: 10,
        input: { op: "put", key: "x", value: "exp" },
        output: {},
      },
    ];
    const simplified = kvModel.simplify?.(ops) ?? [];
    const written = simplified.map((op) => ("value" in op.input ? op.input.value : undefined));
    const standIn = written[1];
    expect(standIn).not.toBe("lost1");
    expect(written).toEqual(["seen", standIn, standIn, standIn, undefined, "exp"]);
    // Untouched operations stay the same objects; ids, clients and times are kept.
    expect(simplified[0]).toBe(ops[0]);
    expect(simplified.map((op) => [op.id, op.clientId, op.call, op.ret])).toEqual(
      ops.map((op) => [op.id, op.clientId, op.call, op.ret]),
    );
  });

  it("picks a stand-in that cannot collide with an observed value", () => {
    const ops: IdentifiedOperation<KvInput, KvOutput>[] = [
      {
        id: 0,
        clientId: 1,
        call: 0,
        ret: 1,
        input: { op: "put", key: "x", value: "w" },
        output: {},
      },
    ];
    const writtenValue = (op: IdentifiedOperation<KvInput, KvOutput> | undefined) =>
      op !== undefined && "value" in op.input ? op.input.value : undefined;
    const standIn = writtenValue(kvModel.simplify?.(ops)[0]);
    expect(standIn).toBeDefined();
    const observing: IdentifiedOperation<KvInput, KvOutput>[] = [
      ...ops,
      {
        id: 1,
        clientId: 2,
        call: 2,
        ret: 3,
        input: { op: "get", key: "x" },
        output: { value: standIn! },
      },
    ];
    const simplified = kvModel.simplify?.(observing) ?? [];
    // "w" is still unobserved, but its stand-in must now differ from the
    // value the read observed.
    const newStandIn = writtenValue(simplified[0]);
    expect(newStandIn).not.toBe("w");
    expect(newStandIn).not.toBe(standIn);
    expect(simplified[1]).toBe(observing[1]);
  });

  it("describes operations and states readably", () => {
    const d = kvModel.describeOperation;
    expect(d({ op: "get", key: "x" }, { value: "a" })).toBe('get("x") -> "a"');
    expect(d({ op: "get", key: "x" }, { value: null })).toBe('get("x") -> (absent)');
    expect(d({ op: "put", key: "x", value: "a" }, {})).toBe('put("x", "a") -> ok');
    expect(d({ op: "delete", key: "x" }, { existed: false })).toBe('delete("x") -> did not exist');
    expect(d({ op: "cas", key: "x", expected: null, value: "b" }, { ok: true })).toBe(
      'cas("x", (absent) => "b") -> swapped',
    );
    expect(d({ op: "put", key: "x", value: "a" }, undefined)).toBe(
      'put("x", "a") -> ? (outcome unknown)',
    );
    expect(kvModel.describeState?.(state({ b: "2", a: "1" }))).toBe('{"a": "1", "b": "2"}');
  });
});
