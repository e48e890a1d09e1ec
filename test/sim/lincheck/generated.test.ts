import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkLinearizability,
  type IllegalResult,
  type KvInput,
  type KvOperation,
  type KvOutput,
  kvModel,
} from "../../../src/sim/lincheck/index.js";
import { get, put } from "./support/kv-builders.js";
import { pick, seededRandom } from "./support/random.js";
import { generateLinearizableHistory } from "./support/register-history.js";
import { expectExplainedFailure } from "./support/replay.js";

const NEVER_WRITTEN = "never-written";

/** Replaces the output of one known get with a value no operation wrote. */
function withImpossibleRead(history: readonly KvOperation[], seed: number): KvOperation[] {
  const reads = history.filter((op) => op.input.op === "get" && op.ret !== undefined);
  const victim = pick(seededRandom(seed), reads);
  return history.map((op) => (op === victim ? { ...op, output: { value: NEVER_WRITTEN } } : op));
}

/** Turns one completed operation into a compare-and-set that swapped from a value never written. */
function withImpossibleSwap(history: readonly KvOperation[], seed: number): KvOperation[] {
  const completed = history.filter((op) => op.ret !== undefined);
  const victim = pick(seededRandom(seed), completed);
  return history.map((op) =>
    op === victim
      ? {
          ...op,
          input: { op: "cas", key: op.input.key, expected: NEVER_WRITTEN, value: "x" },
          output: { ok: true },
        }
      : op,
  );
}

describe("generated histories", () => {
  it("accepts a large history produced by a real sequential store", () => {
    const history = generateLinearizableHistory({
      seed: 20240601,
      clients: 8,
      operationsPerClient: 150,
      keys: ["a", "b", "c"],
      unknownRate: 0.05,
    });
    expect(history.length).toBe(1200);
    expect(history.filter((op) => op.ret === undefined).length).toBeGreaterThan(20);
    expect(checkLinearizability(kvModel, history)).toMatchObject({ result: "ok", partitions: 3 });
  });

  it("accepts a long single-register history with heavy overlap", () => {
    const history = generateLinearizableHistory({
      seed: 7,
      clients: 12,
      operationsPerClient: 60,
      keys: ["only"],
      unknownRate: 0.05,
      maxLatency: 20,
    });
    expect(checkLinearizability(kvModel, history)).toMatchObject({ result: "ok", partitions: 1 });
  });

  it("rejects the large history once a read returns a value never written", () => {
    const history = generateLinearizableHistory({
      seed: 20240601,
      clients: 8,
      operationsPerClient: 150,
      keys: ["a", "b", "c"],
      unknownRate: 0.05,
    });
    const mutated = withImpossibleRead(history, 1);
    const result = checkLinearizability(kvModel, mutated);
    expect(result.result).toBe("illegal");
    expectExplainedFailure(kvModel, result as IllegalResult<KvInput, KvOutput>);
  });

  it("accepts every seeded store history and rejects each impossible mutation of it", () => {
    let checked = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 25 }),
        fc.constantFrom(["k"], ["k", "l"], ["k", "l", "m"]),
        fc.constantFrom(0, 0.1, 0.3),
        (seed, clients, operationsPerClient, keys, unknownRate) => {
          const history = generateLinearizableHistory({
            seed,
            clients,
            operationsPerClient,
            keys,
            unknownRate,
          });
          expect(checkLinearizability(kvModel, history).result).toBe("ok");
          const hasKnownRead = history.some((op) => op.input.op === "get" && op.ret !== undefined);
          if (hasKnownRead) {
            const badRead = checkLinearizability(kvModel, withImpossibleRead(history, seed));
            expect(badRead.result).toBe("illegal");
            expectExplainedFailure(kvModel, badRead as IllegalResult<KvInput, KvOutput>);
          }
          if (history.some((op) => op.ret !== undefined)) {
            const badSwap = checkLinearizability(kvModel, withImpossibleSwap(history, seed));
            expect(badSwap.result).toBe("illegal");
            expectExplainedFailure(kvModel, badSwap as IllegalResult<KvInput, KvOutput>);
          }
          checked++;
        },
      ),
      { seed: 1337, numRuns: 150 },
    );
    expect(checked).toBe(150);
  });
});

describe("search effort", () => {
  /** `writers` concurrent puts of distinct values, then a read nobody can explain. */
  function concurrentWritesThenImpossibleRead(writers: number): KvOperation[] {
    const history: KvOperation[] = [];
    for (let i = 0; i < writers; i++) history.push(put(i, 0, 100, "x", `w${i}`));
    history.push(get(writers, 200, 201, "x", NEVER_WRITTEN));
    return history;
  }

  it("exhausts 12 concurrent writes with memoisation in far fewer steps than 12! orders", () => {
    // Without simplify, so that the twelve written values stay distinct
    // states and only memoisation keeps the search small.
    const { simplify: _merged, ...distinctValues } = kvModel;
    const result = checkLinearizability(distinctValues, concurrentWritesThenImpossibleRead(12), {
      maxSteps: 2_000_000,
    });
    expect(result.result).toBe("illegal");
    // Without memoisation the search would try every one of 12! = 479,001,600
    // orders; with it, each (set of writes, last value) node is visited once.
    expect(result.steps).toBeLessThan(2_000_000);
    expect((result as IllegalResult<KvInput, KvOutput>).longestPrefix).toHaveLength(12);
  });

  it("places many concurrent reads without exploring their orders", () => {
    const history: KvOperation[] = [put(0, 0, 1, "x", "a"), put(0, 50, 51, "x", "b")];
    for (let i = 0; i < 300; i++) history.push(get(1 + i, 2, 49, "x", "a"));
    history.push(get(400, 60, 61, "x", "b"));
    const result = checkLinearizability(kvModel, history, { maxSteps: 5_000 });
    expect(result.result).toBe("ok");
    const broken = [...history, get(401, 70, 71, "x", "a")];
    expect(checkLinearizability(kvModel, broken, { maxSteps: 5_000 }).result).toBe("illegal");
  });

  it("gives up with unknown, naming the bound, when the step budget runs out", () => {
    const result = checkLinearizability(kvModel, concurrentWritesThenImpossibleRead(12), {
      maxSteps: 1_000,
    });
    expect(result).toMatchObject({ result: "unknown", partition: 'key "x"', steps: 1_001 });
    expect(result.result === "unknown" && result.reason).toBe(
      'step bound of 1000 reached while checking key "x"',
    );
  });

  it("gives up with unknown when the time budget runs out", () => {
    let nowMs = 0;
    const clock = () => {
      nowMs += 1;
      return nowMs;
    };
    const result = checkLinearizability(kvModel, concurrentWritesThenImpossibleRead(12), {
      timeoutMs: 3,
      clock,
    });
    expect(result.result).toBe("unknown");
    expect(result.result === "unknown" && result.reason).toMatch(/^timeout of 3 ms reached/);
  });

  it("still reports an illegal partition found before the budget ran out", () => {
    // The small partition is checked first, so its violation is found.
    const history = [
      ...concurrentWritesThenImpossibleRead(12),
      put(0, 0, 1, "y", "a"),
      get(1, 2, 3, "y", "stale"),
    ];
    const result = checkLinearizability(kvModel, history, { maxSteps: 1_000 });
    expect(result).toMatchObject({ result: "illegal", partition: 'key "y"' });
  });
});
