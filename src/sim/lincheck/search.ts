import type { SearchBudget } from "./budget.js";
import { PartitionSearch, type SearchVerdict } from "./partition-search.js";
import type { IdentifiedOperation, Model } from "./types.js";

export type { SearchFailure, SearchVerdict } from "./partition-search.js";

/**
 * Which search runs. Both single strategies are complete on their own;
 * "alternating" (the default) runs both in turns. The others exist so tests
 * can check each strategy against a reference.
 */
export type SearchStrategy = "alternating" | "depth-first" | "levelled";

/**
 * Steps of the first slice when strategies alternate (see searchPartition).
 */
const FIRST_SLICE_STEPS = 20_000;

/**
 * Decides whether one partition is linearizable: the Wing–Gong search as
 * refined by Lowe, with memoised nodes (placed set, state).
 *
 * The search walks the entry list. A call entry reached before any return
 * entry belongs to an operation that may be linearized next (every operation
 * that returned before it was called is already placed); reaching a return
 * entry means that operation should already have been placed, so the node
 * has no more candidates.
 *
 * Reductions on top of the classic search, all complete:
 * - A read-only operation (per `model.isReadOnly`) that is legal at a node is
 *   placed there without trying alternatives: moving a state-preserving
 *   operation earlier, to a point where it is legal, cannot invalidate any
 *   linearization.
 * - The search succeeds once every operation with a known outcome is placed;
 *   unknown ones left over did not take effect (or took effect unseen, at
 *   the end). Unknown read-only operations are dropped up front.
 * - An unknown operation is never placed where it would not change the
 *   state, nor right before an operation that overwrites its effect or
 *   commutes with it (see isCanonicalAfterUnknown); unknown operations with
 *   equal input keys are used in call order.
 * - Memoisation with dominance over unknown operations (see VisitedNodes):
 *   with the same known operations placed and the same state, a node that
 *   placed fewer unknown operations can do all that one with more can.
 *
 * Two strategies share this machinery. Depth-first tries unknown operations
 * last at each node. Levelled explores everything reachable with no unknown
 * operation placed, then with one more at each level, so a node is reached
 * first with a minimal set of them and the dominance check prunes the rest.
 */
export function searchPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  partOperations: readonly IdentifiedOperation<Input, Output>[],
  budget: SearchBudget,
  strategy: SearchStrategy = "alternating",
): SearchVerdict<Input, Output> {
  const hasUnknown = partOperations.some((op) => op.ret === undefined);
  if (strategy !== "alternating" || !hasUnknown) {
    const search = new PartitionSearch(model, partOperations, budget);
    const only = strategy === "levelled" ? search.levelled() : search.depthFirst();
    for (;;) {
      const turn = only.next();
      if (turn.done === true) return turn.value;
    }
  }
  // Depth-first finds a linearization of a correct history with little
  // backtracking; levelled proves a wrong one with many unknown operations
  // wrong far sooner. Which applies is not known in advance, so both run,
  // suspended and resumed in turns with doubling step slices: the total stays
  // within about twice the better strategy's own cost.
  const strategies = [
    new PartitionSearch(model, partOperations, budget).depthFirst(),
    new PartitionSearch(model, partOperations, budget).levelled(),
  ];
  for (let sliceSteps = FIRST_SLICE_STEPS; ; sliceSteps *= 2) {
    for (const strategy of strategies) {
      budget.openSlice(sliceSteps);
      const turn = strategy.next();
      budget.closeSlice();
      if (turn.done === true) return turn.value;
    }
  }
}
