import { type SearchBudget, SLICE_SPENT } from "./budget.js";
import { EntryList } from "./entry-list.js";
import { InvalidModelError, LincheckInvariantError } from "./errors.js";
import { PlacedSet, type Visit, VisitedNodes } from "./memo.js";
import type { IdentifiedOperation, Model } from "./types.js";

/** Where the search of one partition failed deepest. */
export interface SearchFailure<Input, Output> {
  /** The longest linearizable prefix found, in order. */
  readonly prefix: readonly IdentifiedOperation<Input, Output>[];
  readonly stuck: IdentifiedOperation<Input, Output>;
  readonly candidates: readonly IdentifiedOperation<Input, Output>[];
}

export type SearchVerdict<Input, Output> =
  | { readonly kind: "ok" }
  | { readonly kind: "illegal"; readonly failure: SearchFailure<Input, Output> }
  | { readonly kind: "exhausted"; readonly reason: string };

/**
 * The order in which a node tries its candidates. Read-only operations come
 * first because one that fits is placed without trying alternatives;
 * operations with an unknown outcome come last (or, in the levelled search,
 * at the next level) so that a node is first reached with as few of them
 * placed as possible, which makes later arrivals with more of them dominated.
 */
const READ_ONLY = 0;
const KNOWN = 1;
const UNKNOWN = 2;
type Phase = typeof READ_ONLY | typeof KNOWN | typeof UNKNOWN;

/** The operations placed so far, newest first, shared between branches. */
interface PathNode {
  readonly index: number;
  readonly parent: PathNode | undefined;
  readonly length: number;
}

/** A node whose unknown-outcome candidates the levelled search expands at the next level. */
interface DeferredNode<State> {
  readonly visit: Visit;
  readonly known: Uint32Array;
  readonly knownHash: number;
  readonly placedKnown: number;
  readonly state: State;
  readonly stateKey: string;
  readonly path: PathNode | undefined;
}

type ExploreOutcome = "ok" | "exhausted" | "failed";

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
 *   state: dropping it there gives an equally valid linearization.
 * - Memoisation with dominance over unknown operations (see VisitedNodes).
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

/** A search that yields whenever its budget slice is spent and can be resumed. */
type Resumable<T> = Generator<void, T, void>;

class PartitionSearch<State, Input, Output> {
  private readonly ops: IdentifiedOperation<Input, Output>[];
  private readonly phaseOf: Uint8Array;
  /** Rank among known or among unknown operations: the operation's bit in `placed`. */
  private readonly slot: Int32Array;
  /** For an unknown operation: the previous unknown one with an equal input key, or -1. */
  private readonly previousTwin: Int32Array;
  private readonly knownCount: number;
  private readonly list: EntryList;
  private readonly placed: PlacedSet;
  private readonly visited = new VisitedNodes();
  private placedKnown = 0;
  private deferred: DeferredNode<State>[] = [];
  private best: { path: PathNode | undefined; stuck: number; candidates: number[] } | undefined;
  private stopReason = "";

  constructor(
    private readonly model: Model<State, Input, Output>,
    partOperations: readonly IdentifiedOperation<Input, Output>[],
    private readonly budget: SearchBudget,
  ) {
    this.ops = partOperations
      .filter((op) => op.ret !== undefined || model.isReadOnly?.(op.input, undefined) !== true)
      .sort((a, b) => a.call - b.call || a.id - b.id);
    const count = this.ops.length;
    this.phaseOf = new Uint8Array(count);
    this.slot = new Int32Array(count);
    let knownCount = 0;
    let unknownCount = 0;
    for (let i = 0; i < count; i++) {
      const op = this.ops[i]!;
      if (op.ret === undefined) {
        this.phaseOf[i] = UNKNOWN;
        this.slot[i] = unknownCount++;
      } else {
        this.phaseOf[i] = model.isReadOnly?.(op.input, op.output) === true ? READ_ONLY : KNOWN;
        this.slot[i] = knownCount++;
      }
    }
    this.knownCount = knownCount;
    this.previousTwin = new Int32Array(count).fill(-1);
    if (model.inputKey !== undefined) {
      const lastWithKey = new Map<string, number>();
      for (let i = 0; i < count; i++) {
        if (this.phaseOf[i] !== UNKNOWN) continue;
        const key = model.inputKey(this.ops[i]!.input);
        this.previousTwin[i] = lastWithKey.get(key) ?? -1;
        lastWithKey.set(key, i);
      }
    }
    this.list = new EntryList(
      this.ops.map((op) => op.call),
      this.ops.map((op) => op.ret),
    );
    this.placed = new PlacedSet(knownCount, unknownCount);
  }

  *depthFirst(): Resumable<SearchVerdict<Input, Output>> {
    const state = this.model.init();
    const stateKey = this.model.stateKey(state);
    const visit = this.visited.add(this.placed, stateKey)!;
    return this.verdict(yield* this.explore(visit, state, stateKey, undefined, true));
  }

  *levelled(): Resumable<SearchVerdict<Input, Output>> {
    const rootState = this.model.init();
    const rootKey = this.model.stateKey(rootState);
    const rootVisit = this.visited.add(this.placed, rootKey)!;
    let outcome = yield* this.explore(rootVisit, rootState, rootKey, undefined, false);
    while (outcome === "failed" && this.deferred.length > 0) {
      const level = this.deferred;
      this.deferred = [];
      for (const node of level) {
        if (node.visit.superseded) continue;
        outcome = yield* this.expandUnknown(node);
        if (outcome !== "failed") break;
      }
    }
    return this.verdict(outcome);
  }

  private verdict(outcome: ExploreOutcome): SearchVerdict<Input, Output> {
    if (outcome === "ok") return { kind: "ok" };
    if (outcome === "exhausted") return { kind: "exhausted", reason: this.stopReason };
    return { kind: "illegal", failure: this.failure() };
  }

  /** Tries each unknown candidate of a deferred node, exploring what each leads to. */
  private *expandUnknown(node: DeferredNode<State>): Resumable<ExploreOutcome> {
    const { list, placed } = this;
    list.reset();
    placed.known.set(node.known);
    placed.unknown.set(node.visit.unknown);
    placed.knownHash = node.knownHash;
    this.placedKnown = node.placedKnown;
    for (let index = 0; index < this.ops.length; index++) {
      if (this.isPlaced(index)) list.lift(list.callEntry[index]!);
    }
    // Rebuilding the node costs a pass over the operations, far cheaper per
    // operation than a model step.
    this.budget.charge(Math.ceil(this.ops.length / 8));
    for (let entry = list.next[0]!; entry !== 0 && list.isCall[entry] === 1; ) {
      const index = list.operation[entry]!;
      const after = list.next[entry]!;
      if (this.phaseOf[index] === UNKNOWN && !this.hasUnplacedTwin(index)) {
        const stop = this.budget.spend();
        if (stop === SLICE_SPENT) yield;
        else if (stop !== undefined) {
          this.stopReason = stop;
          return "exhausted";
        }
        const op = this.ops[index]!;
        const outcome = this.model.step(node.state, op.input, undefined);
        const nextKey = outcome.ok ? this.model.stateKey(outcome.next) : node.stateKey;
        if (nextKey !== node.stateKey) {
          placed.toggleUnknown(this.slot[index]!);
          const visit = this.visited.add(placed, nextKey);
          if (visit !== undefined) {
            list.lift(entry);
            const path = { index, parent: node.path, length: (node.path?.length ?? 0) + 1 };
            const result = yield* this.explore(visit, outcome.next, nextKey, path, false);
            list.unlift(entry);
            if (result !== "failed") return result;
          }
          placed.toggleUnknown(this.slot[index]!);
        }
      }
      entry = after;
    }
    return "failed";
  }

  /**
   * Interchangeable unknown operations are used in call order: the earlier
   * one can stand in for the later anywhere the later could go.
   */
  private hasUnplacedTwin(index: number): boolean {
    const twin = this.previousTwin[index]!;
    return twin !== -1 && !this.isPlaced(twin);
  }

  private isPlaced(index: number): boolean {
    const slot = this.slot[index]!;
    const words = this.phaseOf[index] === UNKNOWN ? this.placed.unknown : this.placed.known;
    return (words[slot >>> 5]! & (1 << (slot & 31))) !== 0;
  }

  private toggle(index: number): void {
    if (this.phaseOf[index] === UNKNOWN) this.placed.toggleUnknown(this.slot[index]!);
    else this.placed.toggleKnown(this.slot[index]!);
  }

  /**
   * Depth-first search from the current node, which is already recorded as
   * visited. With `unknownInline` unknown-outcome operations are tried at
   * each node after the others; without, each node that fails with unknown
   * candidates left is deferred to the next level instead. Returns with the
   * entry list and placed set as it found them unless the result is "ok" or
   * "exhausted".
   */
  private *explore(
    rootVisit: Visit,
    rootState: State,
    rootKey: string,
    rootPath: PathNode | undefined,
    unknownInline: boolean,
  ): Resumable<ExploreOutcome> {
    const { list, model, ops, phaseOf, budget } = this;
    const lastPhase: Phase = unknownInline ? UNKNOWN : KNOWN;
    // The path from the explore root: at each depth, the call entry placed,
    // the node it was placed from (state, key, path) and its phase.
    const frameEntry: number[] = [];
    const frameState: State[] = [];
    const frameKey: string[] = [];
    const framePath: (PathNode | undefined)[] = [];
    const frameVisit: Visit[] = [];
    const framePhase: Phase[] = [];
    let depth = 0;
    let visit = rootVisit;
    let state = rootState;
    let stateKey = rootKey;
    let path = rootPath;
    let phase: Phase = READ_ONLY;
    let entry = list.next[0]!;

    for (;;) {
      if (this.placedKnown === this.knownCount) return "ok";
      const stop = budget.spend();
      if (stop === SLICE_SPENT) yield;
      else if (stop !== undefined) {
        this.stopReason = stop;
        return "exhausted";
      }

      let nodeFailed = false;
      if (entry === 0 || list.isCall[entry] === 0) {
        // End of this phase's scan.
        if (phase !== lastPhase) {
          phase = phase === READ_ONLY ? KNOWN : UNKNOWN;
          entry = list.next[0]!;
          continue;
        }
        // A known operation is still unplaced, so its return entry is in
        // the list and the scan stopped there, not at the end.
        if (entry === 0) {
          throw new LincheckInvariantError("entry list ended while a known operation was unplaced");
        }
        this.recordFailure(entry, path);
        if (!unknownInline) this.deferIfUnknownCandidates(entry, visit, path, state, stateKey);
        nodeFailed = true;
      } else {
        const index = list.operation[entry]!;
        if (phaseOf[index] !== phase || (phase === UNKNOWN && this.hasUnplacedTwin(index))) {
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
        if (phase === READ_ONLY && nextKey !== stateKey) {
          throw new InvalidModelError(
            `isReadOnly claims ${model.describeOperation(op.input, op.output)} cannot change the state, but its step did`,
          );
        }
        if (phase === UNKNOWN && nextKey === stateKey) {
          entry = list.next[entry]!;
          continue;
        }
        // After an unknown operation, only canonical continuations.
        if (
          depth > 0 &&
          framePhase[depth - 1] === UNKNOWN &&
          !this.isCanonicalAfterUnknown(
            list.operation[frameEntry[depth - 1]!]!,
            frameState[depth - 1]!,
            index,
            nextKey,
          )
        ) {
          entry = list.next[entry]!;
          continue;
        }
        this.toggle(index);
        // A node reached through an unknown operation is restricted by it,
        // so what it can reach depends on the path: it is checked against
        // the visited nodes but not recorded among them.
        let childVisit: Visit | undefined;
        let enter: boolean;
        if (phase === UNKNOWN) {
          enter = !this.visited.dominates(this.placed, nextKey);
          childVisit = visit;
        } else {
          childVisit = this.visited.add(this.placed, nextKey);
          enter = childVisit !== undefined;
        }
        if (enter) {
          frameEntry[depth] = entry;
          frameState[depth] = state;
          frameKey[depth] = stateKey;
          framePath[depth] = path;
          frameVisit[depth] = visit;
          framePhase[depth] = phase;
          depth++;
          visit = childVisit!;
          state = outcome.next;
          stateKey = nextKey;
          path = { index, parent: path, length: (path?.length ?? 0) + 1 };
          if (phase !== UNKNOWN) this.placedKnown++;
          list.lift(entry);
          entry = list.next[0]!;
          phase = READ_ONLY;
          continue;
        }
        this.toggle(index);
        // A read-only placement is the node's only option, and the node it
        // leads to is dominated by one already visited.
        if (phase === READ_ONLY) nodeFailed = true;
        else {
          entry = list.next[entry]!;
          continue;
        }
      }

      if (nodeFailed) {
        // Pop back to the nearest node that still has candidates to try.
        for (;;) {
          if (depth === 0) return "failed";
          depth--;
          const undone = frameEntry[depth]!;
          const index = list.operation[undone]!;
          state = frameState[depth]!;
          stateKey = frameKey[depth]!;
          path = framePath[depth];
          visit = frameVisit[depth]!;
          this.toggle(index);
          list.unlift(undone);
          if (phaseOf[index] !== UNKNOWN) this.placedKnown--;
          const undonePhase = framePhase[depth]!;
          if (undonePhase !== READ_ONLY) {
            entry = list.next[undone]!;
            phase = undonePhase;
            break;
          }
        }
      }
    }
  }

  /**
   * Whether placing `next` right after the unknown-outcome operation
   * `unknown` (placed from `before`) can be part of a canonical
   * linearization. Any linearization can be rewritten into a canonical one:
   * drop an unknown operation whose effect the next operation overwrites,
   * move an unknown operation after a next operation it commutes with, order
   * commuting unknown operations by index. So the search only needs
   * canonical ones, and an unknown operation is placed only right before
   * something it makes a difference to.
   */
  private isCanonicalAfterUnknown(
    unknown: number,
    before: State,
    next: number,
    keyAfterBoth: string,
  ): boolean {
    const { model, ops } = this;
    const nextOp = ops[next]!;
    const nextAlone = model.step(before, nextOp.input, nextOp.output);
    this.budget.charge(1);
    if (!nextAlone.ok) return true;
    const keyNextAlone = model.stateKey(nextAlone.next);
    if (keyNextAlone === keyAfterBoth) return false;
    if (this.phaseOf[next] === UNKNOWN && this.slot[next]! > this.slot[unknown]!) return true;
    const swapped = model.step(nextAlone.next, ops[unknown]!.input, undefined);
    this.budget.charge(1);
    return !(swapped.ok && model.stateKey(swapped.next) === keyAfterBoth);
  }

  /** Keeps the deepest failing node: the longest prefix and what blocked it. */
  private recordFailure(returnEntry: number, path: PathNode | undefined): void {
    const length = path?.length ?? 0;
    if (this.best !== undefined && length <= (this.best.path?.length ?? 0)) return;
    const candidates: number[] = [];
    const { list } = this;
    for (let e = list.next[0]!; e !== returnEntry && e !== 0; e = list.next[e]!) {
      candidates.push(list.operation[e]!);
    }
    this.best = { path, stuck: list.operation[returnEntry]!, candidates };
  }

  private deferIfUnknownCandidates(
    returnEntry: number,
    visit: Visit,
    path: PathNode | undefined,
    state: State,
    stateKey: string,
  ): void {
    const { list } = this;
    for (let e = list.next[0]!; e !== returnEntry && e !== 0; e = list.next[e]!) {
      if (this.phaseOf[list.operation[e]!] !== UNKNOWN) continue;
      this.deferred.push({
        visit,
        known: this.placed.known.slice(),
        knownHash: this.placed.knownHash,
        placedKnown: this.placedKnown,
        state,
        stateKey,
        path,
      });
      return;
    }
  }

  private failure(): SearchFailure<Input, Output> {
    const best = this.best;
    if (best === undefined) {
      throw new LincheckInvariantError("search failed without recording where");
    }
    const prefix: IdentifiedOperation<Input, Output>[] = [];
    for (let node = best.path; node !== undefined; node = node.parent) {
      prefix.push(this.ops[node.index]!);
    }
    prefix.reverse();
    return {
      prefix,
      stuck: this.ops[best.stuck]!,
      candidates: best.candidates.map((i) => this.ops[i]!),
    };
  }
}
