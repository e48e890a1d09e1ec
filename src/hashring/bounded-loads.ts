/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup & Zadimoghaddam,
 * "Consistent Hashing with Bounded Loads", SODA 2018). Keys sit on the
 * default ring; every node has a capacity of ceil((1 + eps) * m * w / W) keys,
 * where m is the number of keys currently placed and w / W the node's share of
 * the weight (with equal weights: ceil((1 + eps) * m / n)). A key goes to the
 * first node clockwise from its hash that has room.
 *
 * The placement is stateful: it remembers where each key lives, and every
 * change returns exactly the keys it moved, so a storage layer can move that
 * data and nothing else. The capacity bound holds after every operation:
 *
 * - place: capacities only grow, so nothing else moves.
 * - release: when m shrinks a capacity can drop by one; a node left above it
 *   hands its oldest keys on, each to the next node clockwise with room.
 * - addNode: keys that meet the new node before their current node, walking
 *   clockwise from their hash, move onto it while it has room (as on a plain
 *   ring); then any node above its lowered capacity hands keys on.
 * - removeNode: its keys go to the next nodes clockwise with room.
 */
import {
  EmptyRingError,
  InvalidOptionError,
  KeyNotPlacedError,
  UnknownNodeError,
  UnsupportedChangeError,
} from "./errors.js";
import { identityToJson, type KeyJson, keyIdentity, keyOfIdentity } from "./key-identity.js";
import type { HashKey } from "./keys.js";
import type { NodeSpec } from "./nodes.js";
import { ringPosition, VirtualNodeRing } from "./ring.js";
import { CONFIG_FORMAT } from "./types.js";

export const DEFAULT_EPSILON = 0.25;

export interface BoundedLoadOptions {
  /** Allowed excess over the average load (> 0; default 0.25). */
  readonly eps?: number;
  /** Points per node of the underlying ring. */
  readonly pointsPerNode?: number;
}

/** One key that changed node; `from` or `to` is null when the key arrived or left. */
export interface KeyMove {
  readonly key: HashKey;
  readonly from: string | null;
  readonly to: string | null;
}

export interface BoundedLoadNodeConfig extends NodeSpec {
  /** The keys this node holds, oldest first. */
  readonly keys: readonly KeyJson[];
}

export interface BoundedLoadConfig {
  readonly format: typeof CONFIG_FORMAT;
  readonly algorithm: "bounded";
  readonly eps: number;
  readonly pointsPerNode: number;
  readonly nodes: readonly BoundedLoadNodeConfig[];
}

function positionOf(identity: string): number {
  return ringPosition(keyOfIdentity(identity));
}

export function validateEpsilon(value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new InvalidOptionError(`eps must be a finite number > 0, got ${String(value)}`);
  }
  return value;
}

/** ceil((1 + eps) * keys * weight / totalWeight), the most keys a node may hold. */
export function boundedCapacity(
  eps: number,
  keys: number,
  weight: number,
  totalWeight: number,
): number {
  return Math.ceil(((1 + eps) * keys * weight) / totalWeight);
}

export class BoundedLoadPlacement {
  readonly algorithm = "bounded" as const;
  readonly eps: number;
  private readonly ring: VirtualNodeRing;
  /** Identity -> node id. Positions are re-hashed when needed rather than stored. */
  private readonly placed = new Map<string, string>();
  /** Per node, the identities it holds in the order they arrived there. */
  private readonly keysOf = new Map<string, Set<string>>();
  private readonly weightOf = new Map<string, number>();
  private totalWeight = 0;

  constructor(options: BoundedLoadOptions = {}) {
    this.eps = validateEpsilon(options.eps ?? DEFAULT_EPSILON);
    this.ring =
      options.pointsPerNode === undefined
        ? new VirtualNodeRing()
        : new VirtualNodeRing({ pointsPerNode: options.pointsPerNode });
  }

  get size(): number {
    return this.ring.size;
  }

  /** Number of keys placed. */
  get keyCount(): number {
    return this.placed.size;
  }

  get pointsPerNode(): number {
    return this.ring.pointsPerNode;
  }

  nodes(): NodeSpec[] {
    return this.ring.nodes();
  }

  hasNode(id: string): boolean {
    return this.ring.hasNode(id);
  }

  /** Keys held per node, in node order. */
  loads(): Map<string, number> {
    return new Map(this.ring.nodes().map(({ id }) => [id, this.keysOf.get(id)!.size]));
  }

  /** The most keys `id` may hold with the keys placed now. */
  capacityOf(id: string): number {
    if (!this.ring.hasNode(id)) throw new UnknownNodeError(id);
    return this.capacity(id, this.placed.size);
  }

  has(key: HashKey): boolean {
    return this.placed.has(keyIdentity(key));
  }

  /** Where a placed key lives. Throws KeyNotPlacedError for a key never placed. */
  get(key: HashKey): string {
    const node = this.placed.get(keyIdentity(key));
    if (node === undefined) throw new KeyNotPlacedError();
    return node;
  }

  /** Places a key (idempotent: a placed key stays where it is) and returns its node. */
  place(key: HashKey): string {
    const identity = keyIdentity(key);
    const existing = this.placed.get(identity);
    if (existing !== undefined) return existing;
    if (this.ring.size === 0) throw new EmptyRingError("place a key");
    const node = this.firstWithRoom(ringPosition(key), this.placed.size + 1, null);
    this.placed.set(identity, node);
    this.keysOf.get(node)!.add(identity);
    return node;
  }

  /** Removes a key; returns the other keys that moved to keep the bound. */
  release(key: HashKey): KeyMove[] {
    const identity = keyIdentity(key);
    const node = this.placed.get(identity);
    if (node === undefined) throw new KeyNotPlacedError();
    this.placed.delete(identity);
    this.keysOf.get(node)!.delete(identity);
    return this.shed();
  }

  /** Adds a node; returns every key that moved (onto it, or off overfull nodes). */
  addNode(id: string, weight = 1): KeyMove[] {
    this.ring.addNode(id, weight);
    this.keysOf.set(id, new Set());
    this.weightOf.set(id, weight);
    this.totalWeight = this.sumWeights();
    const moves: KeyMove[] = [];
    const room = this.capacity(id, this.placed.size);
    const newcomer = this.keysOf.get(id)!;
    scan: for (const { id: holder } of this.ring.nodes()) {
      if (holder === id) continue;
      for (const identity of [...this.keysOf.get(holder)!]) {
        if (newcomer.size >= room) break scan;
        if (this.metFirst(positionOf(identity), id, holder)) moves.push(this.move(identity, id));
      }
    }
    for (const move of this.shed()) moves.push(move);
    return moves;
  }

  /** Removes a node; returns its keys' moves to the next nodes with room. */
  removeNode(id: string): KeyMove[] {
    if (this.ring.hasNode(id) && this.ring.size === 1 && this.placed.size > 0) {
      throw new UnsupportedChangeError(
        `cannot remove ${JSON.stringify(id)}, the last node, while it holds ${this.placed.size} keys`,
      );
    }
    this.ring.removeNode(id);
    const leaving = [...this.keysOf.get(id)!];
    this.keysOf.delete(id);
    this.weightOf.delete(id);
    this.totalWeight = this.sumWeights();
    const moves: KeyMove[] = [];
    const m = this.placed.size;
    for (const identity of leaving) {
      const to = this.firstWithRoom(positionOf(identity), m, null);
      this.placed.set(identity, to);
      this.keysOf.get(to)!.add(identity);
      moves.push({ key: keyOfIdentity(identity), from: id, to });
    }
    return moves;
  }

  toJSON(): BoundedLoadConfig {
    return {
      format: CONFIG_FORMAT,
      algorithm: "bounded",
      eps: this.eps,
      pointsPerNode: this.ring.pointsPerNode,
      nodes: this.ring.nodes().map(({ id, weight }) => ({
        id,
        weight,
        keys: [...this.keysOf.get(id)!].map(identityToJson),
      })),
    };
  }

  /**
   * Restores a configuration from toJSON(). The caller (restoreBoundedLoads)
   * has checked the shapes; this checks the placement itself is one this
   * class could have produced: each key once, no node over capacity.
   */
  static fromJSON(
    config: BoundedLoadConfig,
    identities: readonly (readonly string[])[],
  ): BoundedLoadPlacement {
    const placement = new BoundedLoadPlacement({
      eps: config.eps,
      pointsPerNode: config.pointsPerNode,
    });
    placement.ring.addNodes(config.nodes.map(({ id, weight }) => ({ id, weight })));
    for (const { id, weight } of config.nodes) {
      placement.keysOf.set(id, new Set());
      placement.weightOf.set(id, weight);
      placement.totalWeight += weight;
    }
    config.nodes.forEach(({ id }, nodeIndex) => {
      for (const identity of identities[nodeIndex]!) {
        if (placement.placed.has(identity)) {
          throw new InvalidOptionError(
            `key ${JSON.stringify(identityToJson(identity))} is placed twice`,
          );
        }
        placement.placed.set(identity, id);
        placement.keysOf.get(id)!.add(identity);
      }
    });
    for (const { id } of config.nodes) {
      const load = placement.keysOf.get(id)!.size;
      const cap = placement.capacity(id, placement.placed.size);
      if (load > cap) {
        throw new InvalidOptionError(
          `node ${JSON.stringify(id)} holds ${load} keys, above its capacity ${cap}`,
        );
      }
    }
    return placement;
  }

  /**
   * Summed in node order every time, never adjusted in place: a running total
   * of fractional weights drifts, and a restored copy must compute capacities
   * bit for bit the same.
   */
  private sumWeights(): number {
    let total = 0;
    for (const { id } of this.ring.nodes()) total += this.weightOf.get(id)!;
    return total;
  }

  private capacity(id: string, keys: number): number {
    return boundedCapacity(this.eps, keys, this.weightOf.get(id)!, this.totalWeight);
  }

  /** The first node clockwise from `position` holding fewer keys than its capacity for `keys`. */
  private firstWithRoom(position: number, keys: number, except: string | null): string {
    const ids = this.ring.circleIds();
    const found = this.ring.walkClockwise(position, (owner) => {
      const id = ids[owner]!;
      return id !== except && this.keysOf.get(id)!.size < this.capacity(id, keys);
    });
    // Total capacity is at least (1 + eps) * keys > keys, so some node has room.
    if (found < 0) throw new Error("bounded loads invariant broken: no node has room");
    return ids[found]!;
  }

  /** Whether walking clockwise from `position` meets `candidate` before `current`. */
  private metFirst(position: number, candidate: string, current: string): boolean {
    const ids = this.ring.circleIds();
    const found = this.ring.walkClockwise(position, (owner) => {
      const id = ids[owner]!;
      return id === candidate || id === current;
    });
    return found >= 0 && ids[found] === candidate;
  }

  /** Moves keys off every node above its capacity, oldest keys first. */
  private shed(): KeyMove[] {
    const moves: KeyMove[] = [];
    const m = this.placed.size;
    for (const { id } of this.ring.nodes()) {
      const held = this.keysOf.get(id)!;
      const cap = this.capacity(id, m);
      while (held.size > cap) {
        const oldest = held.values().next().value!;
        const to = this.firstWithRoom(positionOf(oldest), m, id);
        moves.push(this.move(oldest, to));
      }
    }
    return moves;
  }

  private move(identity: string, to: string): KeyMove {
    const from = this.placed.get(identity)!;
    this.keysOf.get(from)!.delete(identity);
    this.keysOf.get(to)!.add(identity);
    this.placed.set(identity, to);
    return { key: keyOfIdentity(identity), from, to };
  }
}
