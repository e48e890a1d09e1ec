import type { SearchBudget } from "./budget.js";
import { EntryList } from "./entry-list.js";
import { InvalidModelError, LincheckInvariantError } from "./errors.js";
import { LinearizedSet, VisitedNodes } from "./memo.js";
import type { IdentifiedOperation, Model } from "./types.js";

/** Where the search of one partition failed deepest. */
export interface SearchFailure<State, Input, Output> {
  readonly prefix: readonly IdentifiedOperation<Input, Output>[];
  /** `statesAfter[i]` is the state after `prefix[i]`. */
  readonly statesAfter: readonly State[];
  readonly stateAfterPrefix: State;
  readonly stuck: IdentifiedOperation<Input, Output>;
  readonly candidates: readonly IdentifiedOperation<Input, Output>[];
}

export type SearchVerdict<State, Input, Output> =
  | { readonly kind: "ok" }
  | { readonly kind: "illegal"; readonly failure: SearchFailure<State, Input, Output> }
  | { readonly kind: "exhausted"; readonly reason: string };

/**
 * Decides whether one partition is linearizable: the Wing–Gong search as
 * refined by Lowe, with memoised (linearized set, state) nodes.
 *
 * The search walks the entry list. A call entry reached before any return
 * entry belongs to an operation that may be linearized next (every operation
 * that returned before it was called is already linearized); a return entry
 * reached means that operation should already have been linearized, so the
 * current node fails and the search backtracks.
 *
 * Two reductions on top of the classic search, both complete:
 * - Read-only operations (per `model.isReadOnly`) are tried first at every
 *   node, and one that is legal is placed without trying alternatives:
 *   moving a state-preserving operation earlier, to a point where it is
 *   legal, cannot invalidate any linearization.
 * - An operation with an unknown outcome is never placed where it would not
 *   change the state: dropping it there gives an equally valid history,
 *   and unknown operations may be dropped. The search succeeds once every
 *   operation with a known outcome is placed; the unknown ones left over
 *   are those that did not take effect (or took effect unobserved, at the end).
 */
export function searchPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  partOperations: readonly IdentifiedOperation<Input, Output>[],
  budget: SearchBudget,
): SearchVerdict<State, Input, Output> {
  const ops = partOperations
    .filter((op) => op.ret !== undefined || model.isReadOnly?.(op.input, undefined) !== true)
    .sort((a, b) => a.call - b.call || a.id - b.id);
  const count = ops.length;
  const unknown = new Uint8Array(count);
  const readOnly = new Uint8Array(count);
  let knownCount = 0;
  for (let i = 0; i < count; i++) {
    const op = ops[i]!;
    if (op.ret === undefined) unknown[i] = 1;
    else knownCount++;
    if (model.isReadOnly?.(op.input, op.output) === true) readOnly[i] = 1;
  }
  const list = new EntryList(
    ops.map((op) => op.call),
    ops.map((op) => op.ret),
  );
  const linearized = new LinearizedSet(count);
  const visited = new VisitedNodes();

  let state = model.init();
  let stateKey = model.stateKey(state);
  visited.add(linearized, stateKey);

  // The path from the root: the call entry placed at each depth and the
  // state before it. A greedy frame placed a read-only operation, so its
  // node has no alternatives left once that placement fails.
  const frameEntry: number[] = [];
  const frameState: State[] = [];
  const frameKey: string[] = [];
  const frameGreedy: boolean[] = [];
  let depth = 0;
  let placedKnown = 0;

  let best: SearchFailure<State, Input, Output> | undefined;
  let bestDepth = -1;
  const recordFailure = (returnEntry: number): void => {
    if (depth <= bestDepth) return;
    bestDepth = depth;
    const prefix: IdentifiedOperation<Input, Output>[] = [];
    const statesAfter: State[] = [];
    for (let d = 0; d < depth; d++) {
      prefix.push(ops[list.operation[frameEntry[d]!]!]!);
      statesAfter.push(d + 1 < depth ? frameState[d + 1]! : state);
    }
    const candidates: IdentifiedOperation<Input, Output>[] = [];
    for (let e = list.next[0]!; e !== returnEntry && e !== 0; e = list.next[e]!) {
      candidates.push(ops[list.operation[e]!]!);
    }
    best = {
      prefix,
      statesAfter,
      stateAfterPrefix: state,
      stuck: ops[list.operation[returnEntry]!]!,
      candidates,
    };
  };

  // Phase "readOnlyFirst" scans the candidates for a legal read-only
  // operation; phase "all" then tries the others.
  let readOnlyFirst = true;
  let entry = list.next[0]!;

  for (;;) {
    if (placedKnown === knownCount) return { kind: "ok" };
    const stop = budget.spend();
    if (stop !== undefined) return { kind: "exhausted", reason: stop };

    let nodeFailed = false;
    if (entry === 0 || list.isCall[entry] === 0) {
      if (readOnlyFirst) {
        readOnlyFirst = false;
        entry = list.next[0]!;
        continue;
      }
      // Some known operation is still unplaced, so its return entry is in
      // the list and the scan stopped there, not at the end.
      if (entry === 0) {
        throw new LincheckInvariantError("entry list ended while a known operation was unplaced");
      }
      recordFailure(entry);
      nodeFailed = true;
    } else {
      const index = list.operation[entry]!;
      if (readOnly[index] !== Number(readOnlyFirst)) {
        entry = list.next[entry]!;
        continue;
      }
      const op = ops[index]!;
      const outcome = model.step(state, op.input, op.output);
      if (!outcome.ok) {
        entry = list.next[entry]!;
        continue;
      }
      const nextKey = model.stateKey(outcome.next);
      if (readOnlyFirst && nextKey !== stateKey) {
        throw new InvalidModelError(
          `isReadOnly claims ${model.describeOperation(op.input, op.output)} cannot change the state, but its step did`,
        );
      }
      if (unknown[index] === 1 && nextKey === stateKey) {
        entry = list.next[entry]!;
        continue;
      }
      linearized.toggle(index);
      if (!visited.add(linearized, nextKey)) {
        linearized.toggle(index);
        // For a greedy placement the node stands or falls with this child,
        // which has already failed.
        if (readOnlyFirst) nodeFailed = true;
        else {
          entry = list.next[entry]!;
          continue;
        }
      } else {
        frameEntry[depth] = entry;
        frameState[depth] = state;
        frameKey[depth] = stateKey;
        frameGreedy[depth] = readOnlyFirst;
        depth++;
        state = outcome.next;
        stateKey = nextKey;
        if (unknown[index] === 0) placedKnown++;
        list.lift(entry);
        entry = list.next[0]!;
        readOnlyFirst = true;
        continue;
      }
    }

    if (nodeFailed) {
      // Pop back to the nearest node that still has alternatives.
      for (;;) {
        if (depth === 0) {
          if (best === undefined) {
            throw new LincheckInvariantError("search failed without recording where");
          }
          return { kind: "illegal", failure: best };
        }
        depth--;
        const placed = frameEntry[depth]!;
        const index = list.operation[placed]!;
        state = frameState[depth]!;
        stateKey = frameKey[depth]!;
        linearized.toggle(index);
        list.unlift(placed);
        if (unknown[index] === 0) placedKnown--;
        if (!frameGreedy[depth]) {
          entry = list.next[placed]!;
          readOnlyFirst = false;
          break;
        }
      }
    }
  }
}
