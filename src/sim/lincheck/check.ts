import { SearchBudget } from "./budget.js";
import { InvalidCheckOptionError } from "./errors.js";
import { normalizeHistory, partitionHistory } from "./history.js";
import { searchPartition } from "./search.js";
import type { CheckOptions, CheckResult, IllegalResult, Model, Operation } from "./types.js";

/**
 * Default step bound. One step is one model step or one backtrack, and each
 * visited node is remembered, so the bound also caps memory (a node costs
 * roughly 100 bytes plus its bitset of one bit per operation).
 */
export const DEFAULT_MAX_STEPS = 2_000_000;

function validateOptions(options: CheckOptions): {
  maxSteps: number;
  timeoutMs: number | undefined;
  clock: () => number;
} {
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  if (!Number.isSafeInteger(maxSteps) || maxSteps < 1) {
    throw new InvalidCheckOptionError(`maxSteps must be a positive integer, got ${maxSteps}`);
  }
  const timeoutMs = options.timeoutMs;
  if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs < 0)) {
    throw new InvalidCheckOptionError(
      `timeoutMs must be a finite number >= 0, got ${String(timeoutMs)}`,
    );
  }
  const clock = options.clock ?? (() => performance.now());
  if (typeof clock !== "function") {
    throw new InvalidCheckOptionError("clock must be a function returning milliseconds");
  }
  return { maxSteps, timeoutMs, clock };
}

/**
 * Decides whether `history` is linearizable with respect to `model`.
 *
 * The history is split with `model.partition` (each part checked on its
 * own), smallest part first so that one hard part cannot starve the easy
 * ones. The first illegal part decides the result; a part that runs out of
 * the shared step/time budget makes the result "unknown".
 *
 * Throws `InvalidHistoryError` for a malformed history,
 * `InvalidCheckOptionError` for bad options and `InvalidModelError` when the
 * model breaks its contract.
 */
export function checkLinearizability<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<Input, Output>[],
  options: CheckOptions = {},
): CheckResult<Input, Output> {
  const { maxSteps, timeoutMs, clock } = validateOptions(options);
  const operations = normalizeHistory(model, history);
  const parts = partitionHistory(model, operations).sort(
    (a, b) => a.operations.length - b.operations.length,
  );
  const budget = new SearchBudget(maxSteps, timeoutMs, clock);
  const describeState = (state: State): string =>
    model.describeState?.(state) ?? model.stateKey(state);

  for (const part of parts) {
    const verdict = searchPartition(model, part.operations, budget);
    if (verdict.kind === "exhausted") {
      return {
        result: "unknown",
        reason: `${verdict.reason} while checking ${part.label}`,
        partition: part.label,
        steps: budget.stepsUsed,
        partitions: parts.length,
      };
    }
    if (verdict.kind === "illegal") {
      const { failure } = verdict;
      const illegal: IllegalResult<Input, Output> = {
        result: "illegal",
        partition: part.label,
        operations: [...part.operations].sort((a, b) => a.call - b.call || a.id - b.id),
        longestPrefix: failure.prefix.map((operation, i) => ({
          operation,
          stateAfter: describeState(failure.statesAfter[i]!),
        })),
        stateAfterPrefix: describeState(failure.stateAfterPrefix),
        stuckOperation: failure.stuck,
        stuckOperationLegalAfterPrefix: model.step(
          failure.stateAfterPrefix,
          failure.stuck.input,
          failure.stuck.output,
        ).ok,
        candidates: failure.candidates,
        steps: budget.stepsUsed,
        partitions: parts.length,
      };
      return illegal;
    }
  }
  return { result: "ok", steps: budget.stepsUsed, partitions: parts.length };
}
