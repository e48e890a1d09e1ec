import { describe, expect, it } from "vitest";
import { ConclaveError } from "../../../src/errors.js";
import {
  checkLinearizability,
  InvalidCheckOptionError,
  InvalidHistoryError,
  InvalidModelError,
  type KvOperation,
  kvModel,
  type Model,
} from "../../../src/sim/lincheck/index.js";
import { get, put } from "./support/kv-builders.js";

function rejection(run: () => unknown): ConclaveError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConclaveError);
    return error as ConclaveError;
  }
  throw new Error("expected the call to throw");
}

/** Feeds the checker a value the types forbid, as an untyped caller could. */
const untyped = (value: unknown) => value as KvOperation[];

describe("history validation", () => {
  const cases: [string, unknown, RegExp][] = [
    ["a non-array history", { length: 1 }, /must be an array/],
    ["a non-object operation", [42], /index 0 is not an object/],
    [
      "a missing call time",
      [{ clientId: 1, input: { op: "get", key: "x" } }],
      /call must be a finite number/,
    ],
    [
      "an infinite call time",
      [{ ...get(1, 0, 1, "x", null), call: Infinity }],
      /call must be a finite/,
    ],
    ["a return before the call", [get(1, 5, 4, "x", null)], /ret 4 is before call 5/],
    [
      "an infinite return time",
      [{ ...get(1, 0, 1, "x", null), ret: Infinity }],
      /ret must be a finite number or absent/,
    ],
    [
      "an output without a return",
      [{ clientId: 1, call: 0, input: { op: "get", key: "x" }, output: { value: null } }],
      /has output but no ret/,
    ],
    [
      "a return without an output",
      [{ clientId: 1, call: 0, ret: 1, input: { op: "get", key: "x" } }],
      /has ret but no output/,
    ],
    [
      "a fractional client id",
      [{ ...get(1, 0, 1, "x", null), clientId: 1.5 }],
      /clientId must be an integer/,
    ],
    [
      "a duplicate id",
      [
        { ...get(1, 0, 1, "x", null), id: 3 },
        { ...get(2, 0, 1, "x", null), id: 3 },
      ],
      /id 3 is also used by the operation at index 0/,
    ],
    [
      "an unknown operation kind",
      [{ clientId: 1, call: 0, input: { op: "incr", key: "x" } }],
      /input.op must be "get", "put", "delete" or "cas", got "incr"/,
    ],
    [
      "a non-string key",
      [{ clientId: 1, call: 0, input: { op: "get", key: 7 } }],
      /input.key must be a string/,
    ],
    [
      "a put without a value",
      [{ clientId: 1, call: 0, input: { op: "put", key: "x" } }],
      /put input.value must be a string/,
    ],
    [
      "a cas with a numeric expectation",
      [{ clientId: 1, call: 0, input: { op: "cas", key: "x", expected: 1, value: "v" } }],
      /cas input.expected must be a string or null/,
    ],
    [
      "a get output without a value",
      [{ ...get(1, 0, 1, "x", null), output: {} }],
      /get output.value must be a string or null/,
    ],
    [
      "a cas output without ok",
      [
        {
          clientId: 1,
          call: 0,
          ret: 1,
          input: { op: "cas", key: "x", expected: null, value: "v" },
          output: {},
        },
      ],
      /cas output.ok must be a boolean/,
    ],
    [
      "a delete output with a non-boolean existed",
      [
        {
          clientId: 1,
          call: 0,
          ret: 1,
          input: { op: "delete", key: "x" },
          output: { existed: "yes" },
        },
      ],
      /existed must be a boolean/,
    ],
  ];

  for (const [name, history, message] of cases) {
    it(`rejects ${name} with INVALID_HISTORY`, () => {
      const error = rejection(() => checkLinearizability(kvModel, untyped(history)));
      expect(error).toBeInstanceOf(InvalidHistoryError);
      expect(error.code).toBe("INVALID_HISTORY");
      expect(error.message).toMatch(message);
    });
  }

  it("names the offending operation by id when it has one", () => {
    const history = [put(1, 0, 1, "x", "a"), { ...get(1, 5, 4, "x", null), id: 17 }];
    expect(rejection(() => checkLinearizability(kvModel, history)).message).toMatch(
      /^operation 17 \(index 1\): /,
    );
  });
});

describe("option validation", () => {
  const history = [put(1, 0, 1, "x", "a")];
  for (const [options, message] of [
    [{ maxSteps: 0 }, /maxSteps must be a positive integer, got 0/],
    [{ maxSteps: 1.5 }, /maxSteps must be a positive integer/],
    [{ timeoutMs: -1 }, /timeoutMs must be a finite number >= 0, got -1/],
    [{ timeoutMs: Number.NaN }, /timeoutMs must be a finite number/],
  ] as const) {
    it(`rejects ${JSON.stringify(options)} with INVALID_CHECK_OPTION`, () => {
      const error = rejection(() => checkLinearizability(kvModel, history, options));
      expect(error).toBeInstanceOf(InvalidCheckOptionError);
      expect(error.code).toBe("INVALID_CHECK_OPTION");
      expect(error.message).toMatch(message);
    });
  }
});

describe("model contract", () => {
  const history = [put(1, 0, 1, "x", "a"), put(1, 2, 3, "y", "b")];

  it("rejects a partition that drops operations", () => {
    const dropping: typeof kvModel = { ...kvModel, partition: (ops) => [ops.slice(0, 1)] };
    const error = rejection(() => checkLinearizability(dropping, history));
    expect(error).toBeInstanceOf(InvalidModelError);
    expect(error.message).toMatch(/left 1 operation\(s\) out of every part/);
  });

  it("rejects a partition that puts an operation in two parts", () => {
    const doubling: typeof kvModel = { ...kvModel, partition: (ops) => [ops, ops.slice(0, 1)] };
    const error = rejection(() => checkLinearizability(doubling, history));
    expect(error).toBeInstanceOf(InvalidModelError);
    expect(error.message).toMatch(/partition 1 holds an operation .* already in another/);
  });

  it("rejects a simplify that changes an operation's timing or drops one", () => {
    const retimed: typeof kvModel = {
      ...kvModel,
      simplify: (part) => part.map((op) => ({ ...op, call: op.call + 1 })),
    };
    const error = rejection(() => checkLinearizability(retimed, history));
    expect(error).toBeInstanceOf(InvalidModelError);
    expect(error.message).toMatch(/simplify changed the identity, client or timing of operation 0/);
    const dropping: typeof kvModel = { ...kvModel, simplify: () => [] };
    expect(rejection(() => checkLinearizability(dropping, history)).message).toMatch(
      /simplify returned 0 operations for key "x", expected 1/,
    );
  });

  it("rejects a model that calls a state-changing operation read-only", () => {
    const lying: Model<number, string, number> = {
      init: () => 0,
      step: (state, input) => ({ ok: true, next: input === "incr" ? state + 1 : state }),
      stateKey: String,
      isReadOnly: () => true,
      describeOperation: (input) => input,
    };
    const error = rejection(() =>
      checkLinearizability(lying, [{ clientId: 1, call: 0, ret: 1, input: "incr", output: 0 }]),
    );
    expect(error).toBeInstanceOf(InvalidModelError);
    expect(error.message).toMatch(/isReadOnly claims incr cannot change the state/);
  });
});
