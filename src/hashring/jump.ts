/**
 * Jump consistent hash (Lamping & Veach, "A Fast, Minimal Memory, Consistent
 * Hash Algorithm", 2014) over numbered buckets 0..B-1. It needs no memory
 * beyond the bucket count and moves the optimal 1/(B+1) of keys when a bucket
 * is appended, but buckets can only be added or removed at the end.
 *
 * Here each node owns a run of consecutive buckets, as many as its (whole
 * number) weight, in insertion order. Only the most recently added node can be
 * removed: removing any other would renumber the buckets after it and move
 * keys between nodes that did not change.
 */
import { EmptyRingError, UnsupportedChangeError } from "./errors.js";
import type { HashKey } from "./keys.js";
import { fmix32I32, murmur3KeyI32, murmur3U32 } from "./murmur3.js";
import { NodeList, type NodeSpec, validateIntegerWeight } from "./nodes.js";
import { checkReplicaCount, SeenMarks } from "./replicas.js";
import { CONFIG_FORMAT, type JumpConfig, type Placement } from "./types.js";

/** The reference implementation takes an int32 bucket count. */
export const MAX_JUMP_BUCKETS = 0x7fffffff;

// The paper's 64-bit LCG multiplier 2862933555777941757, split in 32-bit halves.
const LCG_HI = 0x27bb2ee6;
const LCG_LO = 0x87b0b0fd;
const LCG_LO_LOW16 = LCG_LO & 0xffff;
const LCG_LO_HIGH16 = LCG_LO >>> 16;
const TWO_POW_31 = 2147483648;

/**
 * The paper's algorithm on a 64-bit key given as two 32-bit halves (uint32 or
 * the same bits as int32).
 * key * M + 1 is computed modulo 2^64 with 16-bit partial products so every
 * intermediate stays an exact double; the division and multiplication are the
 * reference's double arithmetic, so results equal the C++ code for any key.
 */
export function jumpBucket(keyHigh: number, keyLow: number, buckets: number): number {
  let hi = keyHigh >>> 0;
  let lo = keyLow >>> 0;
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    // High 32 bits of lo * LCG_LO, from the products with LCG_LO's two 16-bit halves.
    const partLow = lo * LCG_LO_LOW16;
    const partHigh = lo * LCG_LO_HIGH16;
    const carry = Math.floor((partHigh + Math.floor(partLow / 65536)) / 65536);
    const nextHi = (Math.imul(hi, LCG_LO) + Math.imul(lo, LCG_HI) + carry) >>> 0;
    const nextLo = (Math.imul(lo, LCG_LO) + 1) >>> 0;
    // +1 carries into the high word only when the low word wrapped to 0.
    hi = nextLo === 0 ? (nextHi + 1) >>> 0 : nextHi;
    lo = nextLo;
    j = Math.floor((b + 1) * (TWO_POW_31 / ((hi >>> 1) + 1)));
  }
  return b;
}

/** jumpBucket for a bigint key, for callers that already hold a uint64. */
export function jumpBucketBigInt(key: bigint, buckets: number): number {
  const k = BigInt.asUintN(64, key);
  return jumpBucket(Number(k >> 32n), Number(k & 0xffffffffn), buckets);
}

const LOW_WORD_SALT = 0x9e3779b9;

export class JumpHash implements Placement {
  readonly algorithm = "jump" as const;
  private readonly list: NodeList = new NodeList();
  /** bucketStarts[i] = first bucket of node i; bucketStarts[size] = total buckets. */
  private bucketStarts: number[] = [0];
  private allUnitWeights = true;
  private readonly seen = new SeenMarks();

  get size(): number {
    return this.list.size;
  }

  get bucketCount(): number {
    return this.bucketStarts[this.bucketStarts.length - 1]!;
  }

  /** Appends a node owning `weight` (a whole number) buckets after all others. */
  addNode(id: string, weight = 1): void {
    this.list.checkAdd(id, weight);
    validateIntegerWeight(
      id,
      weight,
      MAX_JUMP_BUCKETS - this.bucketCount,
      "a jump weight is a bucket count and all buckets must fit in an int32",
    );
    this.list.push(id, weight);
    this.bucketStarts.push(this.bucketCount + weight);
    this.allUnitWeights &&= weight === 1;
  }

  /** Removes the most recently added node; any other raises UnsupportedChangeError. */
  removeNode(id: string): void {
    const index = this.list.indexOf(id);
    if (index !== this.list.size - 1) {
      throw new UnsupportedChangeError(
        `jump hash can only remove the last node (${JSON.stringify(this.list.ids.at(-1))}); ` +
          `removing ${JSON.stringify(id)} would renumber the buckets after it and move keys ` +
          "between nodes that did not change",
      );
    }
    this.list.remove(id);
    this.bucketStarts.pop();
    this.allUnitWeights = this.list.weights.every((w) => w === 1);
  }

  hasNode(id: string): boolean {
    return this.list.has(id);
  }

  nodes(): NodeSpec[] {
    return this.list.specs();
  }

  get(key: HashKey): string {
    const hash = murmur3KeyI32(key, 0);
    if (this.list.size === 0) throw new EmptyRingError("get");
    return this.list.ids[this.nodeOf(hash)]!;
  }

  getN(key: HashKey, n: number): string[] {
    const hash = murmur3KeyI32(key, 0);
    const size = this.list.size;
    const count = checkReplicaCount(n, size, size);
    const { marks, stamp } = this.seen.next(size);
    const chosen: number[] = [];
    // Replica r uses the key re-hashed with salt r; duplicates are skipped.
    // The attempt cap bounds the loop when light nodes are rarely drawn; after
    // it, the remaining nodes follow the last one chosen in node order. The cap
    // depends only on the node count, so getN(key, n) is a prefix of
    // getN(key, n + 1).
    const maxAttempts = 16 * size + 32;
    let replicaHash = hash;
    for (let attempt = 0; chosen.length < count && attempt < maxAttempts; attempt++) {
      if (attempt > 0) replicaHash = murmur3U32(attempt, hash);
      const node = this.nodeOf(replicaHash);
      if (marks[node] !== stamp) {
        marks[node] = stamp;
        chosen.push(node);
      }
    }
    for (let next = chosen.at(-1)!; chosen.length < count; ) {
      next = (next + 1) % size;
      if (marks[next] !== stamp) {
        marks[next] = stamp;
        chosen.push(next);
      }
    }
    return chosen.map((i) => this.list.ids[i]!);
  }

  /** The bucket a key falls in (0..bucketCount-1). */
  bucketOf(key: HashKey): number {
    const hash = murmur3KeyI32(key, 0);
    if (this.list.size === 0) throw new EmptyRingError("bucketOf");
    return jumpBucket(hash, fmix32I32(hash ^ LOW_WORD_SALT), this.bucketCount);
  }

  get byteLength(): number {
    return this.bucketStarts.length * 8;
  }

  toJSON(): JumpConfig {
    return { format: CONFIG_FORMAT, algorithm: "jump", nodes: this.list.specs() };
  }

  static fromJSON(config: JumpConfig): JumpHash {
    const jump = new JumpHash();
    for (const node of config.nodes) jump.addNode(node.id, node.weight);
    return jump;
  }

  private nodeOf(hash: number): number {
    const bucket = jumpBucket(hash, fmix32I32(hash ^ LOW_WORD_SALT), this.bucketCount);
    if (this.allUnitWeights) return bucket;
    const starts = this.bucketStarts;
    let lo = 0;
    let hi = starts.length - 2;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid]! <= bucket) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
