/**
 * The default consistent-hash ring (Karger et al. 1997): every node owns
 * points on a 2^32 circle and a key belongs to the first point clockwise from
 * its hash. Many points per node smooth out the load; a weight scales a node's
 * point count. Adding a node only takes keys onto it, removing one only moves
 * its own keys, each to the next point clockwise.
 */
import { Continuum, type NodePoints } from "./continuum.js";
import {
  DuplicateNodeError,
  EmptyRingError,
  InvalidOptionError,
  InvalidWeightError,
} from "./errors.js";
import type { HashKey } from "./keys.js";
import { murmur3Key, murmur3KeyI32, murmur3U32 } from "./murmur3.js";
import { NodeList, type NodeSpec } from "./nodes.js";
import { checkReplicaCount, SeenMarks } from "./replicas.js";
import { CONFIG_FORMAT, type Placement, type RingConfig } from "./types.js";

/**
 * Points per node of weight 1, chosen by measurement: a node's share of the
 * circle spreads like 1/sqrt(points), and over 600 sets of 10 node names the
 * busiest node's share exceeded 1.05x the mean for 0.2% of sets at 4000
 * points (2.5% at 3000, 45% at 1000). See docs/hashring.md.
 */
export const DEFAULT_POINTS_PER_NODE = 4000;
/** Most points one node may own: bounds memory whatever weight is given. */
export const MAX_POINTS_PER_NODE = 1 << 22;

/** Seed for hashing keys onto the circle (also used by maglev and jump). */
export const KEY_SEED = 0;
/** Seed for hashing a node id before deriving its points. */
const NODE_SEED = 0x5eed1e55;

export interface RingOptions {
  /** Points for a node of weight 1 (default {@link DEFAULT_POINTS_PER_NODE}). */
  readonly pointsPerNode?: number;
}

/** Where key hashes land on the circle: murmur3_x86_32 of the key's bytes, seed 0. */
export function ringPosition(key: HashKey): number {
  return murmur3Key(key, KEY_SEED);
}

/**
 * A node's points: point i is murmur3_x86_32 of the 4-byte little-endian i,
 * seeded with murmur3_x86_32(id, 0x5eed1e55). Deterministic everywhere.
 */
export function nodePoints(id: string, count: number): Uint32Array {
  const idHash = murmur3Key(id, NODE_SEED);
  const points = new Uint32Array(count);
  for (let i = 0; i < count; i++) points[i] = murmur3U32(i, idHash);
  return points;
}

export function validatePointsPerNode(value: unknown): number {
  if (
    typeof value !== "number" ||
    !Number.isInteger(value) ||
    value < 1 ||
    value > MAX_POINTS_PER_NODE
  ) {
    throw new InvalidOptionError(
      `pointsPerNode must be a whole number from 1 to ${MAX_POINTS_PER_NODE}, got ${String(value)}`,
    );
  }
  return value;
}

/** How many points a node of this weight gets: round(pointsPerNode * weight), at least 1. */
export function pointCount(id: string, weight: number, pointsPerNode: number): number {
  const count = Math.max(1, Math.round(pointsPerNode * weight));
  if (count > MAX_POINTS_PER_NODE) {
    throw new InvalidWeightError(
      `weight ${weight} of node ${JSON.stringify(id)} would give it ${count} points; ` +
        `the limit is ${MAX_POINTS_PER_NODE} (lower the weight or pointsPerNode)`,
    );
  }
  return count;
}

type PendingChange = { readonly add: string } | { readonly removedIndex: number } | "rebuild";

export class VirtualNodeRing implements Placement {
  readonly algorithm = "ring" as const;
  readonly pointsPerNode: number;
  private readonly list: NodeList = new NodeList();
  private built = Continuum.empty();
  /**
   * Changes since `built`. The circle is rebuilt at the next lookup, so a
   * batch of changes costs one rebuild; a single add or removal is merged in
   * O(points) instead of re-sorting.
   */
  private pending: PendingChange | null = null;
  private readonly seen = new SeenMarks();

  constructor(options: RingOptions = {}) {
    this.pointsPerNode = validatePointsPerNode(options.pointsPerNode ?? DEFAULT_POINTS_PER_NODE);
  }

  get size(): number {
    return this.list.size;
  }

  addNode(id: string, weight = 1): void {
    this.list.checkAdd(id, weight);
    pointCount(id, weight, this.pointsPerNode);
    this.list.push(id, weight);
    this.pending = this.pending === null ? { add: id } : "rebuild";
  }

  removeNode(id: string): void {
    const removedIndex = this.list.remove(id);
    this.pending = this.pending === null ? { removedIndex } : "rebuild";
  }

  /** Adds many nodes; validates all of them before changing anything. */
  addNodes(nodes: readonly NodeSpec[]): void {
    const seen = new Set<string>();
    for (const node of nodes) {
      this.list.checkAdd(node.id, node.weight);
      if (seen.has(node.id)) throw new DuplicateNodeError(node.id);
      seen.add(node.id);
      pointCount(node.id, node.weight, this.pointsPerNode);
    }
    for (const node of nodes) this.list.push(node.id, node.weight);
    if (nodes.length > 0) this.pending = "rebuild";
  }

  hasNode(id: string): boolean {
    return this.list.has(id);
  }

  nodes(): NodeSpec[] {
    return this.list.specs();
  }

  get(key: HashKey): string {
    const hash = murmur3KeyI32(key, KEY_SEED);
    const continuum = this.pending === null ? this.built : this.flush();
    if (continuum.size === 0) throw new EmptyRingError("get");
    return this.list.ids[continuum.ownerOf(hash)]!;
  }

  getN(key: HashKey, n: number): string[] {
    const hash = murmur3KeyI32(key, KEY_SEED);
    const count = checkReplicaCount(n, this.list.size, this.list.size);
    const { marks, stamp } = this.seen.next(this.list.size);
    const owners: number[] = [];
    this.flush().distinctOwners(hash, count, marks, stamp, owners);
    return owners.map((i) => this.list.ids[i]!);
  }

  /** The circle position a key hashes to (what the migration plan's arcs cover). */
  positionOf(key: HashKey): number {
    return ringPosition(key);
  }

  /** The sorted points and their owners' indices into `ids`; see planArcMigration. */
  circle(): { positions: Uint32Array; owners: Int32Array; ids: readonly string[] } {
    const continuum = this.flush();
    return { positions: continuum.positions, owners: continuum.owners, ids: this.list.ids };
  }

  /**
   * Visits node indices (into {@link circleIds}) clockwise from `position`,
   * one per point, until `accept` returns true; returns that index or -1.
   */
  walkClockwise(position: number, accept: (nodeIndex: number) => boolean): number {
    return this.flush().walk(position, accept);
  }

  /** Node ids by the indices walkClockwise and circle() use. */
  circleIds(): readonly string[] {
    return this.list.ids;
  }

  /** Bytes held by the lookup arrays. */
  get byteLength(): number {
    return this.flush().byteLength;
  }

  toJSON(): RingConfig {
    return {
      format: CONFIG_FORMAT,
      algorithm: "ring",
      pointsPerNode: this.pointsPerNode,
      nodes: this.list.specs(),
    };
  }

  static fromJSON(config: RingConfig): VirtualNodeRing {
    const ring = new VirtualNodeRing({ pointsPerNode: config.pointsPerNode });
    ring.addNodes(config.nodes);
    return ring;
  }

  private flush(): Continuum {
    const change = this.pending;
    if (change === null) return this.built;
    const ids = this.list.ids;
    if (change === "rebuild") {
      const rank = this.list.rankById();
      const all: NodePoints[] = ids.map((id, nodeIndex) => ({
        nodeIndex,
        tieRank: rank[nodeIndex]!,
        points: nodePoints(id, pointCount(id, this.list.weights[nodeIndex]!, this.pointsPerNode)),
      }));
      this.built = Continuum.build(all);
    } else if ("add" in change) {
      const id = change.add;
      const nodeIndex = this.list.indexOf(id);
      const points = nodePoints(
        id,
        pointCount(id, this.list.weights[nodeIndex]!, this.pointsPerNode),
      );
      this.built = this.built.withNode(points, nodeIndex, (owner) => id < ids[owner]!);
    } else {
      this.built = this.built.withoutNode(change.removedIndex);
    }
    this.pending = null;
    return this.built;
  }
}
