import { type SearchBudget, SLICE_SPENT } from "./budget.js";
import { isCanonicalAfterUnknown } from "./canonical.js";
import { EntryList } from "./entry-list.js";
import { InvalidModelError, LincheckInvariantError } from "./errors.js";
import { PlacedSet, type Visit, VisitedNodes } from "./memo.js";
import {
  KNOWN,
  layoutPartition,
  type PartitionLayout,
  type Phase,
  READ_ONLY,
  UNKNOWN,
} from "./partition-layout.js";
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

/** A search that yields whenever its budget slice is spent and can be resumed. */
export type Resumable<T> = Generator<void, T, void>;

/**
 * The search over one partition: the Wing–Gong–Lowe walk of the entry list
 * with memoised nodes, as a depth-first or a levelled strategy (see
 * searchPartition). Each instance runs one strategy once.
 */
export class PartitionSearch<State, Input, Output> {
  private readonly layout: PartitionLayout<Input, Output>;
  private readonly ops: readonly IdentifiedOperation<Input, Output>[];
  private readonly phaseOf: Uint8Array;
  private readonly slot: Int32Array;
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
    this.layout = layoutPartition(model, partOperations);
    this.ops = this.layout.ops;
    this.phaseOf = this.layout.phaseOf;
    this.slot = this.layout.slot;
    this.knownCount = this.layout.knownCount;
    this.list = new EntryList(
      this.ops.map((op) => op.call),
      this.ops.map((op) => op.ret),
    );
    this.placed = new PlacedSet(this.layout.knownCount, this.layout.unknownCount);
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
    const twin = this.layout.previousTwin[index]!;
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
          !this.isCanonical(
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

  private isCanonical(unknown: number, before: State, next: number, keyAfterBoth: string) {
    const verdict = isCanonicalAfterUnknown(
      this.model,
      this.layout,
      unknown,
      before,
      next,
      keyAfterBoth,
    );
    this.budget.charge(verdict.modelSteps);
    return verdict.canonical;
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
