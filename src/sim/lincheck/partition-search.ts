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
  readonly state: State;
  readonly stateKey: string;
  /** Also says what is placed: the search gets back to the node by replaying it. */
  readonly path: PathNode | undefined;
}

type ExploreOutcome = "ok" | "exhausted" | "failed";

/** A search that yields whenever its budget slice is spent and can be resumed. */
export type Resumable<T> = Generator<void, T, void>;

/**
 * The search over one partition: the Wing–Gong–Lowe walk of the entry list
 * with memoised nodes, as a depth-first or a levelled strategy (see
 * searchPartition). Each instance runs one strategy once.
 *
 * Known-outcome operations are candidates while their call entry comes
 * before the first return entry in the list; unknown-outcome operations,
 * kept out of the list, while their call time is at most that entry's time.
 */
export class PartitionSearch<State, Input, Output> {
  private readonly layout: PartitionLayout<Input, Output>;
  private readonly ops: readonly IdentifiedOperation<Input, Output>[];
  private readonly phaseOf: Uint8Array;
  private readonly unknownOps: Int32Array;
  private readonly list: EntryList;
  private readonly placed: PlacedSet;
  private readonly visited = new VisitedNodes();
  private placedKnown = 0;
  /** The path whose operations are placed right now, between explorations. */
  private currentPath: PathNode | undefined = undefined;
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
    this.unknownOps = this.layout.unknownOps;
    this.list = new EntryList(this.ops);
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
    this.budget.charge(this.moveTo(node.path));
    const limit = this.list.time[this.list.firstReturn()]!;
    for (let cursor = 0; cursor < this.unknownOps.length; cursor++) {
      const index = this.unknownOps[cursor]!;
      const op = this.ops[index]!;
      if (op.call > limit) break;
      if (this.isPlaced(index) || this.hasUnplacedTwin(index)) continue;
      const stop = this.budget.spend();
      if (stop === SLICE_SPENT) yield;
      else if (stop !== undefined) {
        this.stopReason = stop;
        return "exhausted";
      }
      const outcome = this.model.step(node.state, op.input, undefined);
      const nextKey = outcome.ok ? this.model.stateKey(outcome.next) : node.stateKey;
      if (nextKey === node.stateKey) continue;
      this.place(index);
      const visit = this.visited.add(this.placed, nextKey);
      if (visit !== undefined) {
        const path = { index, parent: node.path, length: (node.path?.length ?? 0) + 1 };
        const result = yield* this.explore(visit, outcome.next, nextKey, path, false);
        if (result !== "failed") return result;
      }
      this.unplace(index);
    }
    return "failed";
  }

  /**
   * Gets from the placed operations of `currentPath` to those of `target`
   * by undoing back to their common ancestor and replaying the rest, so the
   * entry list is only ever changed last-in first-out. Returns the moves made.
   */
  private moveTo(target: PathNode | undefined): number {
    let from = this.currentPath;
    let to = target;
    const replay: number[] = [];
    let moves = 0;
    while (from !== to) {
      if ((from?.length ?? 0) >= (to?.length ?? 0)) {
        this.unplace(from!.index);
        from = from!.parent;
        moves++;
      } else {
        replay.push(to!.index);
        to = to!.parent;
      }
    }
    for (let i = replay.length - 1; i >= 0; i--) {
      this.place(replay[i]!);
      moves++;
    }
    this.currentPath = target;
    return moves;
  }

  private place(index: number): void {
    const slot = this.layout.slot[index]!;
    if (this.phaseOf[index] === UNKNOWN) {
      this.placed.toggleUnknown(slot);
    } else {
      this.placed.toggleKnown(slot);
      this.list.lift(this.list.callEntry[index]!);
      this.placedKnown++;
    }
  }

  private unplace(index: number): void {
    const slot = this.layout.slot[index]!;
    if (this.phaseOf[index] === UNKNOWN) {
      this.placed.toggleUnknown(slot);
    } else {
      this.placed.toggleKnown(slot);
      this.list.unlift(this.list.callEntry[index]!);
      this.placedKnown--;
    }
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
    const slot = this.layout.slot[index]!;
    const words = this.phaseOf[index] === UNKNOWN ? this.placed.unknown : this.placed.known;
    return (words[slot >>> 5]! & (1 << (slot & 31))) !== 0;
  }

  /**
   * Depth-first search from the current node, which is already recorded as
   * visited (or, reached through an unknown operation, checked). With
   * `unknownInline` unknown-outcome operations are tried at each node after
   * the others; without, each node that fails with unknown candidates left
   * is deferred to the next level instead. Returns with everything placed as
   * it found it unless the result is "ok" or "exhausted".
   *
   * In the unknown phase, `cursor` walks `unknownOps`; in the others it is
   * an entry of the list.
   */
  private *explore(
    rootVisit: Visit,
    rootState: State,
    rootKey: string,
    rootPath: PathNode | undefined,
    unknownInline: boolean,
  ): Resumable<ExploreOutcome> {
    const { list, model, ops, phaseOf, budget, unknownOps } = this;
    const knownCount = this.layout.knownCount;
    // The path from the explore root: at each depth, the operation placed,
    // where the scan was (cursor), the node it was placed from (visit,
    // state, key, path) and the phase it was placed in.
    const frameOp: number[] = [];
    const frameCursor: number[] = [];
    const frameVisit: Visit[] = [];
    const frameState: State[] = [];
    const frameKey: string[] = [];
    const framePath: (PathNode | undefined)[] = [];
    const framePhase: Phase[] = [];
    let depth = 0;
    let visit = rootVisit;
    let state = rootState;
    let stateKey = rootKey;
    let path = rootPath;
    let phase: Phase = READ_ONLY;
    let cursor = list.next[0]!;
    // In the unknown phase: the first return entry, whose time bounds which
    // unknown operations may come next.
    let firstReturn = 0;

    for (;;) {
      if (this.placedKnown === knownCount) return "ok";
      const stop = budget.spend();
      if (stop === SLICE_SPENT) yield;
      else if (stop !== undefined) {
        this.stopReason = stop;
        return "exhausted";
      }

      let candidate = -1;
      let nodeFailed = false;
      if (phase !== UNKNOWN) {
        if (cursor !== 0 && list.isCall[cursor] === 1) {
          candidate = list.operation[cursor]!;
          if (phaseOf[candidate] !== phase) {
            cursor = list.next[cursor]!;
            continue;
          }
        } else if (phase === READ_ONLY) {
          phase = KNOWN;
          cursor = list.next[0]!;
          continue;
        } else {
          // Some known operation is unplaced, so its return entry is linked
          // and the scan stopped there, not at the end.
          if (cursor === 0) {
            throw new LincheckInvariantError(
              "entry list ended while a known operation was unplaced",
            );
          }
          if (unknownInline) {
            phase = UNKNOWN;
            firstReturn = cursor;
            cursor = 0;
            continue;
          }
          this.recordFailure(cursor, path);
          if (this.hasUnknownCandidate(list.time[cursor]!)) {
            this.deferred.push({ visit, state, stateKey, path });
          }
          nodeFailed = true;
        }
      } else if (
        cursor < unknownOps.length &&
        ops[unknownOps[cursor]!]!.call <= list.time[firstReturn]!
      ) {
        candidate = unknownOps[cursor]!;
        if (this.isPlaced(candidate) || this.hasUnplacedTwin(candidate)) {
          cursor++;
          continue;
        }
      } else {
        this.recordFailure(firstReturn, path);
        nodeFailed = true;
      }

      if (!nodeFailed) {
        const op = ops[candidate]!;
        const outcome = model.step(state, op.input, op.output);
        const nextKey = outcome.ok ? model.stateKey(outcome.next) : stateKey;
        let enter = outcome.ok;
        if (enter && phase === READ_ONLY && nextKey !== stateKey) {
          throw new InvalidModelError(
            `isReadOnly claims ${model.describeOperation(op.input, op.output)} cannot change the state, but its step did`,
          );
        }
        // An unknown operation that changes nothing need not be placed.
        if (enter && phase === UNKNOWN && nextKey === stateKey) enter = false;
        // After an unknown operation, only canonical continuations.
        if (
          enter &&
          depth > 0 &&
          framePhase[depth - 1] === UNKNOWN &&
          !this.isCanonical(frameOp[depth - 1]!, frameState[depth - 1]!, candidate, nextKey)
        ) {
          enter = false;
        }
        let childVisit: Visit | undefined = visit;
        if (enter) {
          this.place(candidate);
          // A node reached through an unknown operation is restricted by it,
          // so what it can reach depends on the path: it is checked against
          // the visited nodes but not recorded among them.
          if (phase === UNKNOWN) enter = !this.visited.dominates(this.placed, nextKey);
          else {
            childVisit = this.visited.add(this.placed, nextKey);
            enter = childVisit !== undefined;
          }
          if (!enter) {
            this.unplace(candidate);
            // A read-only placement is the node's only option, and the node
            // it leads to is dominated by one already visited.
            if (phase === READ_ONLY) nodeFailed = true;
          }
        }
        if (enter) {
          frameOp[depth] = candidate;
          frameCursor[depth] = cursor;
          frameVisit[depth] = visit;
          frameState[depth] = state;
          frameKey[depth] = stateKey;
          framePath[depth] = path;
          framePhase[depth] = phase;
          depth++;
          visit = childVisit!;
          state = outcome.next;
          stateKey = nextKey;
          path = { index: candidate, parent: path, length: (path?.length ?? 0) + 1 };
          phase = READ_ONLY;
          cursor = list.next[0]!;
          continue;
        }
        if (!nodeFailed) {
          cursor = phase === UNKNOWN ? cursor + 1 : list.next[cursor]!;
          continue;
        }
      }

      // Pop back to the nearest node that still has candidates to try.
      for (;;) {
        if (depth === 0) return "failed";
        depth--;
        this.unplace(frameOp[depth]!);
        visit = frameVisit[depth]!;
        state = frameState[depth]!;
        stateKey = frameKey[depth]!;
        path = framePath[depth];
        const undonePhase = framePhase[depth]!;
        if (undonePhase === READ_ONLY) continue;
        phase = undonePhase;
        if (phase === UNKNOWN) {
          cursor = frameCursor[depth]! + 1;
          firstReturn = list.firstReturn();
        } else {
          cursor = list.next[frameCursor[depth]!]!;
        }
        break;
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

  /** Whether an unplaced unknown operation called by `limit` could come next. */
  private hasUnknownCandidate(limit: number): boolean {
    for (let cursor = 0; cursor < this.unknownOps.length; cursor++) {
      const index = this.unknownOps[cursor]!;
      if (this.ops[index]!.call > limit) return false;
      if (!this.isPlaced(index)) return true;
    }
    return false;
  }

  /** Keeps the deepest failing node: the longest prefix and what blocked it. */
  private recordFailure(returnEntry: number, path: PathNode | undefined): void {
    const length = path?.length ?? 0;
    if (this.best !== undefined && length <= (this.best.path?.length ?? 0)) return;
    const { list } = this;
    const candidates: number[] = [];
    for (let e = list.next[0]!; e !== returnEntry && e !== 0; e = list.next[e]!) {
      candidates.push(list.operation[e]!);
    }
    const limit = list.time[returnEntry]!;
    for (const index of this.unknownOps) {
      if (this.ops[index]!.call > limit) break;
      if (!this.isPlaced(index)) candidates.push(index);
    }
    this.best = { path, stuck: list.operation[returnEntry]!, candidates };
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
