import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkWithStrategy } from "../../../src/sim/lincheck/check.js";
import {
  type IllegalResult,
  type KvInput,
  type KvOperation,
  type KvOutput,
  type KvState,
  kvModel,
  type Model,
} from "../../../src/sim/lincheck/index.js";
import { isLinearizableByBruteForce } from "./support/brute-force.js";
import { generateLinearizableHistory } from "./support/register-history.js";
import { expectExplainedFailure } from "./support/replay.js";

/**
 * The checker's reductions (memoisation with dominance, greedy reads,
 * canonical placement of unknown operations, interchangeable unknown
 * operations, simplified values, per-key partitions) must never change a
 * verdict. Small histories are compared against an exhaustive search that
 * uses none of them.
 */

/** The key-value model with every optional hook removed: plain search. */
const bareKvModel: Model<KvState, KvInput, KvOutput> = {
  init: kvModel.init,
  step: kvModel.step,
  stateKey: kvModel.stateKey,
  describeOperation: kvModel.describeOperation,
};

const values = ["1", "2", "3"] as const;
const value = fc.constantFrom(...values);
const maybeValue = fc.constantFrom(null, ...values);

const kvInput: fc.Arbitrary<KvInput> = fc.oneof(
  fc.record({ op: fc.constant("get" as const), key: fc.constantFrom("a", "b") }),
  fc.record({ op: fc.constant("put" as const), key: fc.constantFrom("a", "b"), value }),
  fc.record({ op: fc.constant("delete" as const), key: fc.constantFrom("a", "b") }),
  fc.record({
    op: fc.constant("cas" as const),
    key: fc.constantFrom("a", "b"),
    expected: maybeValue,
    value,
  }),
);

function outputFor(input: KvInput): fc.Arbitrary<KvOutput> {
  switch (input.op) {
    case "get":
      return fc.record({ value: maybeValue });
    case "put":
      return fc.constant({});
    case "delete":
      return fc.oneof(fc.constant({}), fc.record({ existed: fc.boolean() }));
    case "cas":
      return fc.record({ ok: fc.boolean() });
  }
}

/** Operations with arbitrary (mostly impossible) outputs and a third of outcomes lost. */
const arbitraryHistory: fc.Arbitrary<KvOperation[]> = fc.array(
  fc
    .record({
      clientId: fc.integer({ min: 0, max: 3 }),
      call: fc.integer({ min: 0, max: 12 }),
      duration: fc.integer({ min: 0, max: 6 }),
      input: kvInput,
      lost: fc.integer({ min: 0, max: 2 }).map((n) => n === 0),
    })
    .chain(({ clientId, call, duration, input, lost }) =>
      lost
        ? fc.constant<KvOperation>({ clientId, call, input })
        : outputFor(input).map<KvOperation>((output) => ({
            clientId,
            call,
            ret: call + duration,
            input,
            output,
          })),
    ),
  { minLength: 1, maxLength: 7 },
);

/** A store-produced (so linearizable) history, sometimes with one output replaced. */
const storeHistory: fc.Arbitrary<KvOperation[]> = fc
  .record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    clients: fc.integer({ min: 1, max: 3 }),
    perClient: fc.integer({ min: 1, max: 3 }),
    keys: fc.constantFrom(["a"], ["a", "b"]),
  })
  .map(({ seed, clients, perClient, keys }) =>
    generateLinearizableHistory({
      seed,
      clients,
      operationsPerClient: perClient,
      keys,
      unknownRate: 0.3,
      maxLatency: 3,
    }).map(({ id: _id, ...op }) => op),
  )
  .chain((history) =>
    fc
      .record({ history: fc.constant(history), victim: fc.nat(history.length - 1) })
      .chain(({ history, victim }) => {
        const target = history[victim]!;
        if (target.ret === undefined) return fc.constant(history);
        return fc.oneof(
          fc.constant(history),
          outputFor(target.input).map((output) =>
            history.map((op, i) => (i === victim ? { ...op, output } : op)),
          ),
        );
      }),
  );

/** The same operation reporting a different result: another value read, the other cas or delete answer. */
function flipOutput(op: KvOperation): KvOperation {
  const output = op.output as Record<string, unknown>;
  switch (op.input.op) {
    case "get": {
      const read = output["value"];
      return { ...op, output: { value: read === "1" ? "2" : read === "2" ? null : "1" } };
    }
    case "cas":
      return { ...op, output: { ok: output["ok"] !== true } };
    case "delete":
      return { ...op, output: { existed: output["existed"] !== true } };
    case "put":
      return op;
  }
}

describe("verdicts agree with exhaustive search", () => {
  it("for every strategy and with or without the model's optional hooks", () => {
    const tally = { ok: 0, illegal: 0 };
    fc.assert(
      fc.property(fc.oneof(arbitraryHistory, storeHistory), (history) => {
        const expected = isLinearizableByBruteForce(kvModel, history) ? "ok" : "illegal";
        tally[expected]++;
        for (const model of [kvModel, bareKvModel]) {
          for (const strategy of ["alternating", "depth-first", "levelled"] as const) {
            const result = checkWithStrategy(model, history, {}, strategy);
            expect(result.result).toBe(expected);
            if (result.result === "illegal") {
              expectExplainedFailure(model, result as IllegalResult<KvInput, KvOutput>);
            }
          }
        }
      }),
      { seed: 4242, numRuns: 1500 },
    );
    // Both verdicts must be well represented, or the comparison proves little.
    expect(tally.ok).toBeGreaterThan(300);
    expect(tally.illegal).toBeGreaterThan(300);
  });

  it("for histories with many interchangeable lost operations", () => {
    // Few distinct inputs, so many lost operations are twins of each other.
    const twinHeavy = fc.array(
      fc
        .record({
          clientId: fc.integer({ min: 0, max: 5 }),
          call: fc.integer({ min: 0, max: 10 }),
          duration: fc.integer({ min: 0, max: 4 }),
          input: fc.oneof(
            fc.constant<KvInput>({ op: "delete", key: "a" }),
            fc.constant<KvInput>({ op: "put", key: "a", value: "1" }),
            fc.constant<KvInput>({ op: "put", key: "a", value: "2" }),
            fc.constant<KvInput>({ op: "get", key: "a" }),
            fc.constant<KvInput>({ op: "cas", key: "a", expected: "1", value: "2" }),
          ),
          lost: fc.boolean(),
        })
        .chain(({ clientId, call, duration, input, lost }) =>
          lost
            ? fc.constant<KvOperation>({ clientId, call, input })
            : outputFor(input).map<KvOperation>((output) => ({
                clientId,
                call,
                ret: call + duration,
                input,
                output,
              })),
        ),
      { minLength: 1, maxLength: 8 },
    );
    const tally = { ok: 0, illegal: 0 };
    fc.assert(
      fc.property(twinHeavy, (history) => {
        const expected = isLinearizableByBruteForce(kvModel, history) ? "ok" : "illegal";
        tally[expected]++;
        for (const strategy of ["depth-first", "levelled"] as const) {
          expect(checkWithStrategy(kvModel, history, {}, strategy).result).toBe(expected);
        }
      }),
      { seed: 99, numRuns: 800 },
    );
    expect(tally.ok).toBeGreaterThan(100);
    expect(tally.illegal).toBeGreaterThan(80);
  });

  it("for store histories that reuse few values with many lost operations", () => {
    // Reused values and many lost writes make the search weigh which lost
    // write explains which read, and reach one state along many paths.
    const history = fc
      .record({
        seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        clients: fc.integer({ min: 2, max: 4 }),
        perClient: fc.integer({ min: 2, max: 3 }),
        victim: fc.nat(),
        corrupt: fc.boolean(),
      })
      .map(({ seed, clients, perClient, victim, corrupt }) => {
        const made = generateLinearizableHistory({
          seed,
          clients,
          operationsPerClient: perClient,
          keys: ["a"],
          unknownRate: 0.5,
          maxLatency: 3,
          valuePool: ["1", "2"],
        });
        if (!corrupt) return made;
        // Flip what one completed get, cas or reporting delete returned.
        const targets = made.filter(
          (op) => op.ret !== undefined && op.input.op !== "put" && op.output !== undefined,
        );
        const target = targets[victim % Math.max(1, targets.length)];
        if (target === undefined) return made;
        const flipped = flipOutput(target);
        return made.map((op) => (op === target ? flipped : op));
      });
    const tally = { ok: 0, illegal: 0 };
    fc.assert(
      fc.property(history, (ops) => {
        const expected = isLinearizableByBruteForce(kvModel, ops) ? "ok" : "illegal";
        tally[expected]++;
        for (const model of [kvModel, bareKvModel]) {
          for (const strategy of ["depth-first", "levelled"] as const) {
            expect(checkWithStrategy(model, ops, {}, strategy).result).toBe(expected);
          }
        }
      }),
      { seed: 7, numRuns: 600 },
    );
    expect(tally.ok).toBeGreaterThan(100);
    expect(tally.illegal).toBeGreaterThan(80);
  });

  it("explores a node again when it is reached with fewer lost operations used", () => {
    // Depth-first first reaches {put 1, cas, put 3} with state "3" by using the
    // lost delete to let the cas see an absent key (put 1, delete, cas, put 3),
    // and fails there because the final read needs that delete. Later it
    // reaches the same operations and state without the delete (cas, put 1,
    // put 3): that node can still use the delete, so it must not be skipped.
    const history: KvOperation[] = [
      { clientId: 1, call: 0, ret: 10, input: { op: "put", key: "a", value: "1" }, output: {} },
      {
        clientId: 2,
        call: 0,
        ret: 10,
        input: { op: "cas", key: "a", expected: null, value: "5" },
        output: { ok: true },
      },
      { clientId: 3, call: 0, ret: 10, input: { op: "put", key: "a", value: "3" }, output: {} },
      { clientId: 4, call: 0, input: { op: "delete", key: "a" } },
      { clientId: 5, call: 13, ret: 14, input: { op: "get", key: "a" }, output: { value: null } },
    ];
    expect(isLinearizableByBruteForce(kvModel, history)).toBe(true);
    for (const strategy of ["alternating", "depth-first", "levelled"] as const) {
      expect(checkWithStrategy(kvModel, history, {}, strategy).result).toBe("ok");
    }
  });
});
