import type { IdentifiedOperation, Model } from "./types.js";

/**
 * When a node tries each kind of candidate. Read-only operations come first
 * because one that fits is placed without trying alternatives; operations
 * with an unknown outcome come last (or, in the levelled search, at the next
 * level) so that a node is first reached with as few of them placed as
 * possible, which makes later arrivals with more of them dominated.
 */
export const READ_ONLY = 0;
export const KNOWN = 1;
export const UNKNOWN = 2;
export type Phase = typeof READ_ONLY | typeof KNOWN | typeof UNKNOWN;

/** What the search needs to know about each operation of one partition. */
export interface PartitionLayout<Input, Output> {
  /** By call time; unknown read-only operations are left out (they constrain nothing). */
  readonly ops: readonly IdentifiedOperation<Input, Output>[];
  readonly phaseOf: Uint8Array;
  /** Rank among known or among unknown operations: the operation's bit in a PlacedSet. */
  readonly slot: Int32Array;
  /** For an unknown operation: the previous unknown one with an equal input key, or -1. */
  readonly previousTwin: Int32Array;
  /** Indexes of the unknown-outcome operations, by call time. */
  readonly unknownOps: Int32Array;
  readonly knownCount: number;
  readonly unknownCount: number;
}

export function layoutPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  partOperations: readonly IdentifiedOperation<Input, Output>[],
): PartitionLayout<Input, Output> {
  const ops = partOperations
    .filter((op) => op.ret !== undefined || model.isReadOnly?.(op.input, undefined) !== true)
    .sort((a, b) => a.call - b.call || a.id - b.id);
  const count = ops.length;
  const phaseOf = new Uint8Array(count);
  const slot = new Int32Array(count);
  let knownCount = 0;
  let unknownCount = 0;
  for (let i = 0; i < count; i++) {
    const op = ops[i]!;
    if (op.ret === undefined) {
      phaseOf[i] = UNKNOWN;
      slot[i] = unknownCount++;
    } else {
      phaseOf[i] = model.isReadOnly?.(op.input, op.output) === true ? READ_ONLY : KNOWN;
      slot[i] = knownCount++;
    }
  }
  const previousTwin = new Int32Array(count).fill(-1);
  if (model.inputKey !== undefined) {
    const lastWithKey = new Map<string, number>();
    for (let i = 0; i < count; i++) {
      if (phaseOf[i] !== UNKNOWN) continue;
      const key = model.inputKey(ops[i]!.input);
      previousTwin[i] = lastWithKey.get(key) ?? -1;
      lastWithKey.set(key, i);
    }
  }
  const unknownOps = new Int32Array(unknownCount);
  for (let i = 0; i < count; i++) {
    if (phaseOf[i] === UNKNOWN) unknownOps[slot[i]!] = i;
  }
  return { ops, phaseOf, slot, previousTwin, unknownOps, knownCount, unknownCount };
}
