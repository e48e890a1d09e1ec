/**
 * Ketama, mapping keys exactly as the C implementations in
 * libmemcached (weighted ketama) and twemproxy (`distribution: ketama`,
 * `hash: md5`). A server of weight w among n servers of total weight W gets
 *
 *   4 * floorf((float)(pct * 160 / 4 * (float)n + 1e-10)),  pct = (float)w / (float)W
 *
 * points, evaluated in single precision exactly as C does: the product is
 * formed in float, the 1e-10 literal promotes it to double, and the cast back
 * to float rounds the epsilon away again. Point group i of server `name` is
 * the MD5 of the bytes `${name}-${i}` (i from 0), read as four little-endian
 * 32-bit words; a key's position is the first such word of MD5(key).
 *
 * The npm `hashring` package follows the same scheme but computes the count
 * as floor(w / W * 40 * n) in double precision, which lands on the other side
 * of an integer for some server counts (equal weights: 7, 14, 28, 49, 56
 * servers get 156 points there, 160 here; 25 servers get 160 there, 156 here).
 */
import { Continuum } from "./continuum.js";
import { DuplicateNodeError, EmptyRingError } from "./errors.js";
import type { HashKey } from "./keys.js";
import { md5KeyInto, md5KeyWord0I32 } from "./md5.js";
import { NodeList, type NodeSpec, validateIntegerWeight } from "./nodes.js";
import { checkReplicaCount, SeenMarks } from "./replicas.js";
import { CONFIG_FORMAT, type KetamaConfig, type Placement } from "./types.js";

/** twemproxy sums weights in a uint32_t; a larger total would wrap there. */
export const MAX_KETAMA_TOTAL_WEIGHT = 0xffffffff;
const POINTS_PER_SERVER = 160;
const POINTS_PER_HASH = 4;

/** Points a server gets, computed with C's single-precision arithmetic. */
export function ketamaPointCount(weight: number, totalWeight: number, serverCount: number): number {
  const f = Math.fround;
  const pct = f(f(weight) / f(totalWeight));
  let scaled = f(pct * POINTS_PER_SERVER);
  scaled = f(scaled / POINTS_PER_HASH);
  scaled = f(scaled * f(serverCount));
  // `+ 0.0000000001` is a double literal: the sum is a double, then cast to float.
  const groups = Math.floor(f(scaled + 0.0000000001));
  return groups * POINTS_PER_HASH;
}

/** Where a key lands on the ketama circle: MD5(key) word 0. */
export function ketamaPosition(key: HashKey): number {
  return md5KeyWord0I32(key) >>> 0;
}

/** The first `count` points of a server, reusing a previously computed prefix. */
function serverPoints(id: string, count: number, known: Uint32Array | undefined): Uint32Array {
  if (known !== undefined && known.length >= count) return known.subarray(0, count);
  const points = new Uint32Array(count);
  const digest = new Uint32Array(4);
  let group = 0;
  if (known !== undefined) {
    points.set(known);
    group = known.length / POINTS_PER_HASH;
  }
  for (; group < count / POINTS_PER_HASH; group++) {
    md5KeyInto(`${id}-${group}`, digest);
    points.set(digest, group * POINTS_PER_HASH);
  }
  return points;
}

export class KetamaRing implements Placement {
  readonly algorithm = "ketama" as const;
  private readonly list: NodeList = new NodeList();
  private totalWeight = 0;
  private built = Continuum.empty();
  /** Rebuilt at the next lookup after a change, so a batch of changes costs one rebuild. */
  private stale = false;
  private serversWithPoints = 0;
  /** Each server's points computed so far (a server's points only ever extend). */
  private readonly pointCache = new Map<string, Uint32Array>();
  private readonly seen = new SeenMarks();

  get size(): number {
    return this.list.size;
  }

  /** Adds a server. Weights are whole numbers, as in the C implementations. */
  addNode(id: string, weight = 1): void {
    this.list.checkAdd(id, weight);
    this.checkWeight(id, weight, this.totalWeight);
    this.list.push(id, weight);
    this.totalWeight += weight;
    this.stale = true;
  }

  removeNode(id: string): void {
    this.list.remove(id);
    this.pointCache.delete(id);
    this.totalWeight = this.list.weights.reduce((sum, w) => sum + w, 0);
    this.stale = true;
  }

  hasNode(id: string): boolean {
    return this.list.has(id);
  }

  nodes(): NodeSpec[] {
    return this.list.specs();
  }

  /** Points each server currently owns, in node order (a weight can round down to 0). */
  pointCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const [i, id] of this.list.ids.entries()) {
      counts.set(id, ketamaPointCount(this.list.weights[i]!, this.totalWeight, this.list.size));
    }
    return counts;
  }

  get(key: HashKey): string {
    const hash = md5KeyWord0I32(key);
    const continuum = this.stale ? this.rebuild() : this.built;
    if (continuum.size === 0) throw new EmptyRingError("get");
    return this.list.ids[continuum.ownerOf(hash)]!;
  }

  getN(key: HashKey, n: number): string[] {
    const hash = md5KeyWord0I32(key);
    const continuum = this.stale ? this.rebuild() : this.built;
    const count = checkReplicaCount(n, this.serversWithPoints, this.list.size);
    const { marks, stamp } = this.seen.next(this.list.size);
    const owners: number[] = [];
    continuum.distinctOwners(hash, count, marks, stamp, owners);
    return owners.map((i) => this.list.ids[i]!);
  }

  positionOf(key: HashKey): number {
    return ketamaPosition(key);
  }

  circle(): { positions: Uint32Array; owners: Int32Array; ids: readonly string[] } {
    const continuum = this.stale ? this.rebuild() : this.built;
    return { positions: continuum.positions, owners: continuum.owners, ids: this.list.ids };
  }

  /** Bytes held by the lookup arrays and the cached server points. */
  get byteLength(): number {
    const continuum = this.stale ? this.rebuild() : this.built;
    let cached = 0;
    for (const points of this.pointCache.values()) cached += points.byteLength;
    return continuum.byteLength + cached;
  }

  toJSON(): KetamaConfig {
    return { format: CONFIG_FORMAT, algorithm: "ketama", nodes: this.list.specs() };
  }

  static fromJSON(config: KetamaConfig): KetamaRing {
    const ring = new KetamaRing();
    ring.addNodes(config.nodes);
    return ring;
  }

  /** Adds many servers with one rebuild; validates all before changing anything. */
  addNodes(nodes: readonly NodeSpec[]): void {
    const seen = new Set<string>();
    let total = this.totalWeight;
    for (const node of nodes) {
      this.list.checkAdd(node.id, node.weight);
      if (seen.has(node.id)) throw new DuplicateNodeError(node.id);
      seen.add(node.id);
      this.checkWeight(node.id, node.weight, total);
      total += node.weight;
    }
    for (const node of nodes) this.list.push(node.id, node.weight);
    this.totalWeight = total;
    this.stale = true;
  }

  private checkWeight(id: string, weight: number, totalBefore: number): void {
    validateIntegerWeight(
      id,
      weight,
      MAX_KETAMA_TOTAL_WEIGHT - totalBefore,
      "ketama weights are C integers and their total must fit in 32 bits",
    );
  }

  /** Every server's count depends on the total weight, so any change rebuilds all. */
  private rebuild(): Continuum {
    const n = this.list.size;
    this.serversWithPoints = 0;
    const all = this.list.ids.map((id, nodeIndex) => {
      const count = ketamaPointCount(this.list.weights[nodeIndex]!, this.totalWeight, n);
      if (count > 0) this.serversWithPoints++;
      const known = this.pointCache.get(id);
      const points = serverPoints(id, count, known);
      if (known === undefined || points.length > known.length) this.pointCache.set(id, points);
      // Equal positions keep server order, like npm's stable sort of its ring.
      return { nodeIndex, tieRank: nodeIndex, points };
    });
    this.built = Continuum.build(all);
    this.stale = false;
    return this.built;
  }
}
