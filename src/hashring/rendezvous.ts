/**
 * Rendezvous or highest-random-weight hashing (Thaler & Ravishankar 1998):
 * every node scores every key and the highest score wins. Weights use the
 * logarithmic method of Schindelhauer & Schomaker (2005): score =
 * w / -ln(u) with u the node's hash of the key mapped into (0, 1), which gives
 * each node exactly its weight's share in expectation and keeps the
 * minimal-disruption property. A lookup costs O(nodes).
 */
import { EmptyRingError } from "./errors.js";
import type { HashKey } from "./keys.js";
import { murmur3Key, murmur3KeyI32, murmur3U32PremixedI32, premixBlock } from "./murmur3.js";
import { NodeList, type NodeSpec } from "./nodes.js";
import { checkReplicaCount } from "./replicas.js";
import { CONFIG_FORMAT, type Placement, type RendezvousConfig } from "./types.js";

const NODE_SEED = 0x2e4d3c1b;
const TWO_POW_32 = 4294967296;

/**
 * The node's 32-bit draw for a key: murmur3_x86_32 of the node's id hash as
 * one 4-byte block, seeded with the key's hash. The block's own mixing is
 * done once per node (premixBlock), leaving a few operations per lookup.
 */
function draw(keyHash: number, nodePremixed: number): number {
  return murmur3U32PremixedI32(nodePremixed, keyHash) >>> 0;
}

export class RendezvousHash implements Placement {
  readonly algorithm = "rendezvous" as const;
  private readonly list: NodeList = new NodeList();
  /** premixBlock(murmur3(id)) per node. */
  private nodeHashes = new Int32Array(0);
  private weights = new Float64Array(0);
  /** Position of each node in id order: breaks (rare) equal scores the same everywhere. */
  private rank: Int32Array = new Int32Array(0);
  private equalWeights = true;

  get size(): number {
    return this.list.size;
  }

  addNode(id: string, weight = 1): void {
    this.list.checkAdd(id, weight);
    this.list.push(id, weight);
    this.refresh();
  }

  removeNode(id: string): void {
    this.list.remove(id);
    this.refresh();
  }

  hasNode(id: string): boolean {
    return this.list.has(id);
  }

  nodes(): NodeSpec[] {
    return this.list.specs();
  }

  get(key: HashKey): string {
    const keyHash = murmur3KeyI32(key, 0);
    const size = this.list.size;
    if (size === 0) throw new EmptyRingError("get");
    const hashes = this.nodeHashes;
    const rank = this.rank;
    let best = 0;
    if (this.equalWeights) {
      // With equal weights w / -ln(u) increases with u, so the raw draw decides.
      let bestDraw = -1;
      for (let i = 0; i < size; i++) {
        // draw(keyHash, hashes[i]) written out: this loop runs once per node per
        // lookup, and V8 does not inline the imported call here.
        let h = keyHash ^ hashes[i]!;
        h = (h << 13) | (h >>> 19);
        h = ((Math.imul(h, 5) + 0xe6546b64) | 0) ^ 4;
        h ^= h >>> 16;
        h = Math.imul(h, 0x85ebca6b);
        h ^= h >>> 13;
        h = Math.imul(h, 0xc2b2ae35);
        const d = (h ^ (h >>> 16)) >>> 0;
        if (d > bestDraw || (d === bestDraw && rank[i]! < rank[best]!)) {
          bestDraw = d;
          best = i;
        }
      }
    } else {
      const weights = this.weights;
      let bestDraw = -1;
      let bestScore = -1;
      for (let i = 0; i < size; i++) {
        // The call returns an int32 (no boxing); the score is computed inline
        // for the same reason: this loop must not allocate.
        const d = murmur3U32PremixedI32(hashes[i]!, keyHash) >>> 0;
        const s = weights[i]! / -Math.log((d + 0.5) / TWO_POW_32);
        if (
          s > bestScore ||
          (s === bestScore && (d > bestDraw || (d === bestDraw && rank[i]! < rank[best]!)))
        ) {
          bestScore = s;
          bestDraw = d;
          best = i;
        }
      }
    }
    return this.list.ids[best]!;
  }

  /** The top `n` nodes by score, highest first. */
  getN(key: HashKey, n: number): string[] {
    const keyHash = murmur3Key(key, 0);
    const size = this.list.size;
    const count = checkReplicaCount(n, size, size);
    const draws = new Float64Array(size);
    const scores = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      draws[i] = draw(keyHash, this.nodeHashes[i]!);
      scores[i] = this.equalWeights ? draws[i]! : score(draws[i]!, this.weights[i]!);
    }
    const order = Array.from({ length: size }, (_, i) => i);
    order.sort(
      (a, b) => scores[b]! - scores[a]! || draws[b]! - draws[a]! || this.rank[a]! - this.rank[b]!,
    );
    return order.slice(0, count).map((i) => this.list.ids[i]!);
  }

  get byteLength(): number {
    return this.nodeHashes.byteLength + this.weights.byteLength + this.rank.byteLength;
  }

  toJSON(): RendezvousConfig {
    return { format: CONFIG_FORMAT, algorithm: "rendezvous", nodes: this.list.specs() };
  }

  static fromJSON(config: RendezvousConfig): RendezvousHash {
    const hash = new RendezvousHash();
    for (const node of config.nodes) hash.addNode(node.id, node.weight);
    return hash;
  }

  private refresh(): void {
    const ids = this.list.ids;
    this.nodeHashes = Int32Array.from(ids, (id) => premixBlock(murmur3Key(id, NODE_SEED)));
    this.weights = Float64Array.from(this.list.weights);
    this.rank = this.list.rankById();
    const first = this.list.weights[0];
    this.equalWeights = this.list.weights.every((w) => w === first);
  }
}

/** w / -ln(u) with u = (draw + 0.5) / 2^32, strictly inside (0, 1). */
function score(drawValue: number, weight: number): number {
  return weight / -Math.log((drawValue + 0.5) / TWO_POW_32);
}
