import { InvalidHistoryError, InvalidModelError } from "./errors.js";
import type { IdentifiedOperation, Model, Operation } from "./types.js";

/** A history part ready for the search, with a readable name. */
export interface HistoryPart<Input, Output> {
  readonly label: string;
  readonly operations: readonly IdentifiedOperation<Input, Output>[];
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function describeAt(index: number, id: unknown): string {
  return id === undefined
    ? `operation at index ${index}`
    : `operation ${String(id)} (index ${index})`;
}

/**
 * Validates every operation of a history and gives each its resolved id.
 * Operations keep their identity as far as reports go: the returned objects
 * carry the caller's fields plus `id`.
 */
export function normalizeHistory<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: unknown,
): IdentifiedOperation<Input, Output>[] {
  if (!Array.isArray(history)) {
    throw new InvalidHistoryError(`history must be an array of operations, got ${typeof history}`);
  }
  const seenIds = new Map<number, number>();
  const result: IdentifiedOperation<Input, Output>[] = [];
  for (let index = 0; index < history.length; index++) {
    const raw: unknown = history[index];
    if (typeof raw !== "object" || raw === null) {
      throw new InvalidHistoryError(`operation at index ${index} is not an object`);
    }
    const op = raw as Record<string, unknown>;
    const where = describeAt(index, op["id"]);
    const id = op["id"] === undefined ? index : op["id"];
    if (typeof id !== "number" || !Number.isSafeInteger(id)) {
      throw new InvalidHistoryError(`${where}: id must be an integer, got ${String(id)}`);
    }
    const clash = seenIds.get(id);
    if (clash !== undefined) {
      throw new InvalidHistoryError(
        `${where}: id ${id} is also used by the operation at index ${clash}`,
      );
    }
    seenIds.set(id, index);
    if (typeof op["clientId"] !== "number" || !Number.isSafeInteger(op["clientId"])) {
      throw new InvalidHistoryError(
        `${where}: clientId must be an integer, got ${String(op["clientId"])}`,
      );
    }
    if (!isFiniteNumber(op["call"])) {
      throw new InvalidHistoryError(
        `${where}: call must be a finite number, got ${String(op["call"])}`,
      );
    }
    const hasRet = op["ret"] !== undefined;
    const hasOutput = op["output"] !== undefined;
    if (hasRet) {
      if (!isFiniteNumber(op["ret"])) {
        throw new InvalidHistoryError(
          `${where}: ret must be a finite number or absent, got ${String(op["ret"])}`,
        );
      }
      if (op["ret"] < op["call"]) {
        throw new InvalidHistoryError(`${where}: ret ${op["ret"]} is before call ${op["call"]}`);
      }
    }
    if (hasRet !== hasOutput) {
      throw new InvalidHistoryError(
        hasRet
          ? `${where}: has ret but no output; an operation with unknown outcome must have neither`
          : `${where}: has output but no ret; a completed operation needs both`,
      );
    }
    const problem = model.validateOperation?.(op["input"], op["output"]);
    if (problem !== undefined) {
      throw new InvalidHistoryError(`${where}: ${problem}`);
    }
    result.push({ ...(op as unknown as Operation<Input, Output>), id });
  }
  return result;
}

/** Splits a validated history with the model's partition function, checking the split is exact. */
export function partitionHistory<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly IdentifiedOperation<Input, Output>[],
): HistoryPart<Input, Output>[] {
  if (model.partition === undefined) {
    return [{ label: "whole history", operations: history }];
  }
  const parts = model.partition(history);
  const unplaced = new Set<Operation<Input, Output>>(history);
  const result: HistoryPart<Input, Output>[] = [];
  for (let partIndex = 0; partIndex < parts.length; partIndex++) {
    const part = parts[partIndex]!;
    for (const op of part) {
      if (!unplaced.delete(op)) {
        throw new InvalidModelError(
          `partition ${partIndex} holds an operation that is not in the history or is already in another partition`,
        );
      }
    }
    if (part.length === 0) continue;
    const label = model.partitionLabel?.(part) ?? `partition ${partIndex}`;
    result.push({ label, operations: part as readonly IdentifiedOperation<Input, Output>[] });
  }
  if (unplaced.size > 0) {
    throw new InvalidModelError(
      `partition left ${unplaced.size} operation(s) out of every part; each operation must be in exactly one`,
    );
  }
  return result;
}
