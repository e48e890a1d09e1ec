/**
 * The set of search nodes already visited: (linearized-set, state) pairs.
 * Reaching a pair twice means the second visit can only repeat the first
 * one's failure (Lowe, "Testing for linearizability", section 4), so the
 * search skips it.
 *
 * The linearized set is a bitset over the partition's operations. Its hash is
 * maintained incrementally (Zobrist style: XOR of a fixed per-operation word),
 * so testing membership costs no more than comparing the few bitsets that
 * share a hash and state.
 */
export class LinearizedSet {
  readonly words: Uint32Array;
  hash = 0;

  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  /** Adds or removes operation `index` (the caller knows which). */
  toggle(index: number): void {
    this.words[index >>> 5]! ^= 1 << (index & 31);
    this.hash = (this.hash ^ operationHash(index)) >>> 0;
  }

  has(index: number): boolean {
    return (this.words[index >>> 5]! & (1 << (index & 31))) !== 0;
  }
}

/** murmur3's 32-bit finaliser: spreads consecutive indexes over the whole word. */
function operationHash(index: number): number {
  let h = (index + 0x9e3779b9) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}

export class VisitedNodes {
  private readonly byState = new Map<string, Map<number, Uint32Array[]>>();
  size = 0;

  /** Records the node; returns false when it was already recorded. */
  add(linearized: LinearizedSet, stateKey: string): boolean {
    let byHash = this.byState.get(stateKey);
    if (byHash === undefined) {
      byHash = new Map();
      this.byState.set(stateKey, byHash);
    }
    const bucket = byHash.get(linearized.hash);
    if (bucket === undefined) {
      byHash.set(linearized.hash, [linearized.words.slice()]);
    } else {
      for (const words of bucket) {
        if (sameWords(words, linearized.words)) return false;
      }
      bucket.push(linearized.words.slice());
    }
    this.size++;
    return true;
  }
}
