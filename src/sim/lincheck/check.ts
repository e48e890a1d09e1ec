import { SearchBudget } from "./budget.js";
import { InvalidCheckOptionError, InvalidModelError } from "./errors.js";
import { type HistoryPart, normalizeHistory, partitionHistory } from "./history.js";
import { type SearchFailure, type SearchStrategy, searchPartition } from "./search.js";
import type {
  CheckOptions,
  CheckResult,
  IdentifiedOperation,
  IllegalResult,
  Model,
  Operation,
} from "./types.js";

/**
 * Default step bound. One step is roughly one model step or one backtrack;
 * a few million take seconds, and the nodes remembered along the way (about
 * 100 bytes each plus a bit per operation) stay within a few hundred MB.
 */
export const DEFAULT_MAX_STEPS = 10_000_000;

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

/** Applies `model.simplify`, checking it kept every operation's identity and timing. */
function simplified<State, Input, Output>(
  model: Model<State, Input, Output>,
  part: HistoryPart<Input, Output>,
): readonly IdentifiedOperation<Input, Output>[] {
  if (model.simplify === undefined) return part.operations;
  const rewritten = model.simplify(part.operations);
  const byId = new Map(part.operations.map((op) => [op.id, op]));
  if (rewritten.length !== part.operations.length) {
    throw new InvalidModelError(
      `simplify returned ${rewritten.length} operations for ${part.label}, expected ${part.operations.length}`,
    );
  }
  for (const op of rewritten) {
    const original = byId.get(op.id);
    if (
      original === undefined ||
      original.clientId !== op.clientId ||
      original.call !== op.call ||
      original.ret !== op.ret ||
      (original.output === undefined) !== (op.output === undefined)
    ) {
      throw new InvalidModelError(
        `simplify changed the identity, client or timing of operation ${op.id} in ${part.label}`,
      );
    }
    byId.delete(op.id);
  }
  return rewritten;
}

/** Builds the report from the original operations, replaying the prefix for its states. */
function illegalResult<State, Input, Output>(
  model: Model<State, Input, Output>,
  part: HistoryPart<Input, Output>,
  failure: SearchFailure<Input, Output>,
  stats: { steps: number; partitions: number },
): IllegalResult<Input, Output> {
  const originalById = new Map(part.operations.map((op) => [op.id, op]));
  const original = (op: IdentifiedOperation<Input, Output>) => originalById.get(op.id)!;
  const describeState = (state: State): string =>
    model.describeState?.(state) ?? model.stateKey(state);
  let state = model.init();
  const longestPrefix = failure.prefix.map((found) => {
    const operation = original(found);
    const outcome = model.step(state, operation.input, operation.output);
    if (!outcome.ok) {
      throw new InvalidModelError(
        `${model.describeOperation(operation.input, operation.output)} was legal during the search but not on replay; the model must be deterministic (and simplify exact)`,
      );
    }
    state = outcome.next;
    return { operation, stateAfter: describeState(state) };
  });
  const stuck = original(failure.stuck);
  return {
    result: "illegal",
    partition: part.label,
    operations: [...part.operations].sort((a, b) => a.call - b.call || a.id - b.id),
    longestPrefix,
    stateAfterPrefix: describeState(state),
    stuckOperation: stuck,
    stuckOperationLegalAfterPrefix: model.step(state, stuck.input, stuck.output).ok,
    candidates: failure.candidates.map(original),
    ...stats,
  };
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
  return checkWithStrategy(model, history, options, "alternating");
}

/** `checkLinearizability` with a chosen search strategy; for tests of each strategy. */
export function checkWithStrategy<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<Input, Output>[],
  options: CheckOptions,
  strategy: SearchStrategy,
): CheckResult<Input, Output> {
  const { maxSteps, timeoutMs, clock } = validateOptions(options);
  const operations = normalizeHistory(model, history);
  const parts = partitionHistory(model, operations).sort(
    (a, b) => a.operations.length - b.operations.length,
  );
  const budget = new SearchBudget(maxSteps, timeoutMs, clock);

  for (const part of parts) {
    const verdict = searchPartition(model, simplified(model, part), budget, strategy);
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
      return illegalResult(model, part, verdict.failure, {
        steps: budget.stepsUsed,
        partitions: parts.length,
      });
    }
  }
  return { result: "ok", steps: budget.stepsUsed, partitions: parts.length };
}
