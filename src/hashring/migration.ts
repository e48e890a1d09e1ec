/**
 * Migration plans: given the placement before and after a change, exactly
 * what moves and between which nodes. For the two rings the answer is a list
 * of arcs of the hash circle, so a store can select the data to move by the
 * stored keys' positions (ring.positionOf(key)) without listing keys; for any
 * algorithm, the answer for a given key set.
 */
import { EmptyRingError, IncompatiblePlacementsError } from "./errors.js";
import type { KetamaRing } from "./ketama.js";
import type { HashKey } from "./keys.js";
import type { VirtualNodeRing } from "./ring.js";

/**
 * Keys whose circle position p satisfies first <= p <= last (uint32, never
 * wrapping) belong to `from` before the change and to `to` after it.
 */
export interface ArcMove {
  readonly first: number;
  readonly last: number;
  readonly from: string;
  readonly to: string;
}

/** One key whose owner changed. */
export interface KeyOwnerChange {
  readonly key: HashKey;
  readonly from: string;
  readonly to: string;
}

type Circle = ReturnType<VirtualNodeRing["circle"]>;
const MAX_POSITION = 0xffffffff;

/** Index of the first point >= value, or 0 past the end (the circle wraps). */
function successor(positions: Uint32Array, value: number): number {
  let lo = 0;
  let hi = positions.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (positions[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo === positions.length ? 0 : lo;
}

/**
 * The arcs of the circle whose owner differs between two rings of the same
 * kind (default ring with default ring, ketama with ketama). Adjacent arcs
 * with the same (from, to) are merged; the result is sorted by position.
 * When a node is removed, every arc comes from it and goes to the node that
 * follows it clockwise: its data moves to the next node, and nothing else does.
 */
export function planArcMigration(
  before: VirtualNodeRing | KetamaRing,
  after: VirtualNodeRing | KetamaRing,
): ArcMove[] {
  if (before.algorithm !== after.algorithm) {
    throw new IncompatiblePlacementsError(
      `cannot compare a ${before.algorithm} circle with a ${after.algorithm} circle: ` +
        "they hash keys to different positions (use planKeyMigration)",
    );
  }
  const a = before.circle();
  const b = after.circle();
  if (a.positions.length === 0) return [];
  if (b.positions.length === 0) throw new EmptyRingError("plan a migration onto an empty ring");
  return diffCircles(a, b);
}

function diffCircles(a: Circle, b: Circle): ArcMove[] {
  // Every boundary of either circle; between two consecutive boundaries both
  // owners are constant, so comparing at each boundary covers the circle.
  const bounds = new Uint32Array(a.positions.length + b.positions.length);
  bounds.set(a.positions);
  bounds.set(b.positions, a.positions.length);
  bounds.sort();
  const moves: ArcMove[] = [];
  const emit = (first: number, last: number, fromIndex: number, toIndex: number): void => {
    const from = a.ids[a.owners[fromIndex]!]!;
    const to = b.ids[b.owners[toIndex]!]!;
    if (from === to) return;
    const previous = moves.at(-1);
    if (previous && previous.last + 1 === first && previous.from === from && previous.to === to) {
      moves[moves.length - 1] = { first: previous.first, last, from, to };
    } else {
      moves.push({ first, last, from, to });
    }
  };
  let lower = 0;
  let previousBound = -1;
  for (let i = 0; i < bounds.length; i++) {
    const bound = bounds[i]!;
    if (bound === previousBound) continue;
    // Positions lower..bound all go to the first point at or after `bound`.
    emit(lower, bound, successor(a.positions, bound), successor(b.positions, bound));
    lower = bound + 1;
    previousBound = bound;
  }
  // Past the last boundary the circle wraps to each ring's first point.
  if (lower <= MAX_POSITION) emit(lower, MAX_POSITION, 0, 0);
  return moves;
}

/** Keys of `keys` whose owner differs between `before` and `after`, in input order. */
export function planKeyMigration(
  before: { get(key: HashKey): string },
  after: { get(key: HashKey): string },
  keys: Iterable<HashKey>,
): KeyOwnerChange[] {
  const changes: KeyOwnerChange[] = [];
  for (const key of keys) {
    const from = before.get(key);
    const to = after.get(key);
    if (from !== to) changes.push({ key, from, to });
  }
  return changes;
}

/** Whether a circle position falls in one of the arcs (binary search; arcs are sorted). */
export function findArc(arcs: readonly ArcMove[], position: number): ArcMove | undefined {
  let lo = 0;
  let hi = arcs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const arc = arcs[mid]!;
    if (position < arc.first) hi = mid - 1;
    else if (position > arc.last) lo = mid + 1;
    else return arc;
  }
  return undefined;
}
