import type { Model, Operation } from "../../../../src/sim/lincheck/index.js";

/**
 * The definition of linearizability, searched exhaustively: some order of
 * the operations respects real time (a returned before b was called means a
 * comes first) and the model accepts every step. Operations with unknown
 * outcome may be left out. No memoisation, no pruning: a reference to
 * compare the real checker against on small histories.
 */
export function isLinearizableByBruteForce<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<Input, Output>[],
): boolean {
  const placed = history.map(() => false);
  const mustPlace = history.filter((op) => op.ret !== undefined).length;
  const search = (state: State, placedKnown: number): boolean => {
    if (placedKnown === mustPlace) return true;
    for (let i = 0; i < history.length; i++) {
      if (placed[i]) continue;
      const op = history[i]!;
      const blocked = history.some(
        (other, j) => !placed[j] && j !== i && other.ret !== undefined && other.ret < op.call,
      );
      if (blocked) continue;
      const outcome = model.step(state, op.input, op.output);
      if (!outcome.ok) continue;
      placed[i] = true;
      const found = search(outcome.next, placedKnown + (op.ret === undefined ? 0 : 1));
      placed[i] = false;
      if (found) return true;
    }
    return false;
  };
  return search(model.init(), 0);
}
