import { type PartitionLayout, UNKNOWN } from "./partition-layout.js";
import type { Model } from "./types.js";

/**
 * Whether placing operation `next` right after the unknown-outcome
 * operation `unknown` (placed from state `before`, the two together giving
 * the state keyed `keyAfterBoth`) can be part of a canonical linearization.
 *
 * Any linearization can be rewritten into a canonical one, in which no
 * unknown operation is immediately followed by an operation that
 * - overwrites its effect (`next` alone from `before` gives the same state:
 *   drop the unknown operation, which is allowed),
 * - commutes with it (`next` is legal from `before` and the swapped order
 *   ends in the same state: move the unknown operation later), or
 * - is an unknown operation of lower rank that commutes with it (order such
 *   pairs by rank).
 * Each rewrite shortens the linearization, moves a known operation ahead of
 * an unknown one, or lowers the ranks in order, so rewriting ends. The
 * search therefore only needs canonical linearizations, and places an
 * unknown operation only right before something it makes a difference to.
 *
 * Returns the verdict and how many model steps it took.
 */
export function isCanonicalAfterUnknown<State, Input, Output>(
  model: Model<State, Input, Output>,
  layout: PartitionLayout<Input, Output>,
  unknown: number,
  before: State,
  next: number,
  keyAfterBoth: string,
): { readonly canonical: boolean; readonly modelSteps: number } {
  const nextOp = layout.ops[next]!;
  const nextAlone = model.step(before, nextOp.input, nextOp.output);
  if (!nextAlone.ok) return { canonical: true, modelSteps: 1 };
  if (model.stateKey(nextAlone.next) === keyAfterBoth) return { canonical: false, modelSteps: 1 };
  if (layout.phaseOf[next] === UNKNOWN && layout.slot[next]! > layout.slot[unknown]!) {
    return { canonical: true, modelSteps: 1 };
  }
  const swapped = model.step(nextAlone.next, layout.ops[unknown]!.input, undefined);
  const commutes = swapped.ok && model.stateKey(swapped.next) === keyAfterBoth;
  return { canonical: !commutes, modelSteps: 2 };
}
