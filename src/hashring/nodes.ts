import {
  DuplicateNodeError,
  InvalidNodeIdError,
  InvalidWeightError,
  UnknownNodeError,
} from "./errors.js";

/** A node as the placement knows it: its id and its relative weight. */
export interface NodeSpec {
  readonly id: string;
  readonly weight: number;
}

/** Longest node id accepted, in UTF-16 code units; ids are names, not payloads. */
export const MAX_NODE_ID_LENGTH = 1024;

export function validateNodeId(id: unknown): asserts id is string {
  if (typeof id !== "string") {
    throw new InvalidNodeIdError(
      `node id must be a string, got ${id === null ? "null" : typeof id}`,
    );
  }
  if (id.length === 0) throw new InvalidNodeIdError("node id must not be empty");
  if (id.length > MAX_NODE_ID_LENGTH) {
    throw new InvalidNodeIdError(
      `node id is ${id.length} characters long; the limit is ${MAX_NODE_ID_LENGTH}`,
    );
  }
}

/** Checks a weight is a finite number > 0; returns it for chaining. */
export function validateWeight(id: string, weight: unknown): number {
  if (typeof weight !== "number" || !Number.isFinite(weight) || weight <= 0) {
    throw new InvalidWeightError(
      `weight of node ${JSON.stringify(id)} must be a finite number > 0, got ${String(weight)}`,
    );
  }
  return weight;
}

/** Checks a weight is a whole number in [1, max] (jump buckets, ketama's C weights). */
export function validateIntegerWeight(
  id: string,
  weight: unknown,
  max: number,
  why: string,
): number {
  validateWeight(id, weight);
  const w = weight as number;
  if (!Number.isInteger(w) || w > max) {
    throw new InvalidWeightError(
      `weight of node ${JSON.stringify(id)} must be a whole number from 1 to ${max} (${why}), got ${w}`,
    );
  }
  return w;
}

/**
 * The ordered node list every algorithm keeps: insertion order, O(1) lookup
 * by id. Algorithms rebuild their own index-based structures from it.
 */
export class NodeList {
  readonly ids: string[] = [];
  readonly weights: number[] = [];
  private readonly indexById = new Map<string, number>();

  get size(): number {
    return this.ids.length;
  }

  has(id: string): boolean {
    return this.indexById.has(id);
  }

  indexOf(id: string): number {
    validateNodeId(id);
    const index = this.indexById.get(id);
    if (index === undefined) throw new UnknownNodeError(id);
    return index;
  }

  /** Validates and checks for a duplicate without changing anything. */
  checkAdd(id: unknown, weight: unknown): asserts id is string {
    validateNodeId(id);
    if (this.indexById.has(id)) throw new DuplicateNodeError(id);
    validateWeight(id, weight);
  }

  /** Appends a node already checked by {@link checkAdd}; returns its index. */
  push(id: string, weight: number): number {
    const index = this.ids.length;
    this.ids.push(id);
    this.weights.push(weight);
    this.indexById.set(id, index);
    return index;
  }

  /** Removes a node; later nodes shift down by one. Returns the old index. */
  remove(id: unknown): number {
    validateNodeId(id);
    const index = this.indexOf(id);
    this.ids.splice(index, 1);
    this.weights.splice(index, 1);
    this.indexById.delete(id);
    for (let i = index; i < this.ids.length; i++) this.indexById.set(this.ids[i]!, i);
    return index;
  }

  specs(): NodeSpec[] {
    return this.ids.map((id, i) => ({ id, weight: this.weights[i]! }));
  }

  /** Node indices ordered by id, so results never depend on insertion order. */
  rankById(): Int32Array {
    const order = this.ids.map((_, i) => i).sort((a, b) => compareIds(this.ids[a]!, this.ids[b]!));
    const rank = new Int32Array(order.length);
    order.forEach((nodeIndex, r) => {
      rank[nodeIndex] = r;
    });
    return rank;
  }
}

/** Total order on ids by UTF-16 code units: the same in every process and locale. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
