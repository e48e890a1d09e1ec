import { expect } from "vitest";
import type { IllegalResult, Model } from "../../../../src/sim/lincheck/index.js";

/**
 * Asserts an illegal verdict explains itself: the reported prefix replays
 * through the model with the reported states, respects real time among its
 * own operations, and does not contain the stuck operation.
 */
export function expectExplainedFailure<State, Input, Output>(
  model: Model<State, Input, Output>,
  result: IllegalResult<Input, Output>,
): void {
  let state = model.init();
  const describeState = (s: State) => model.describeState?.(s) ?? model.stateKey(s);
  for (const step of result.longestPrefix) {
    const outcome = model.step(state, step.operation.input, step.operation.output);
    expect(outcome.ok).toBe(true);
    state = outcome.next;
    expect(describeState(state)).toBe(step.stateAfter);
  }
  expect(describeState(state)).toBe(result.stateAfterPrefix);
  const prefix = result.longestPrefix.map((s) => s.operation);
  prefix.forEach((later, i) => {
    for (const earlier of prefix.slice(i + 1)) {
      // Nothing placed after `later` may have returned before `later` was called.
      expect(earlier.ret === undefined || earlier.ret >= later.call).toBe(true);
    }
  });
  expect(prefix.some((op) => op.id === result.stuckOperation.id)).toBe(false);
  expect(result.stuckOperation.ret).toBeDefined();
  expect(result.operations.some((op) => op.id === result.stuckOperation.id)).toBe(true);
}
