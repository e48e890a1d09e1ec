import { EmptyRingError, InvalidOptionError, NotEnoughNodesError } from "./errors.js";

/** Validates getN's `n` against the number of nodes that can be returned. */
export function checkReplicaCount(n: unknown, available: number, nodeCount: number): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
    throw new InvalidOptionError(`getN: n must be a whole number >= 1, got ${String(n)}`);
  }
  if (nodeCount === 0) throw new EmptyRingError("getN");
  if (n > available) {
    throw new NotEnoughNodesError(
      n,
      available,
      available < nodeCount
        ? ` (${nodeCount - available} node(s) own no part of the key space)`
        : "",
    );
  }
  return n;
}

/**
 * A per-node "seen" marker for collecting distinct nodes without a Set:
 * a slot equals the current stamp iff that node was already taken.
 */
export class SeenMarks {
  private marks = new Uint32Array(0);
  private stamp = 0;

  /** Starts a new collection over `nodeCount` nodes; returns the stamp to use. */
  next(nodeCount: number): { marks: Uint32Array; stamp: number } {
    if (this.marks.length < nodeCount) this.marks = new Uint32Array(nodeCount);
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      this.marks.fill(0);
      this.stamp = 1;
    }
    return { marks: this.marks, stamp: this.stamp };
  }
}
