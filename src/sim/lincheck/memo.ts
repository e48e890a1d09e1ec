/**
 * The search nodes already visited. A node is the set of operations placed so
 * far plus the model state; reaching a node that cannot do better than one
 * already visited only repeats that visit's failure (Lowe, "Testing for
 * linearizability", section 4), so the search skips it.
 *
 * The placed set is kept as two bitsets: operations with a known outcome and
 * operations with an unknown one. With the same known set and state, a node
 * that placed fewer unknown operations can do everything one that placed more
 * can (the extra ones are optional and constrain nothing), so a node is
 * skipped when a visited node has the same known set and state and a subset
 * of its unknown operations. Without unknown operations this is plain
 * equality, as in Porcupine.
 */
export class PlacedSet {
  readonly known: Uint32Array;
  readonly unknown: Uint32Array;
  /** Hash of `known`, maintained incrementally (XOR of a fixed word per operation). */
  knownHash = 0;

  constructor(knownCount: number, unknownCount: number) {
    this.known = new Uint32Array(Math.ceil(knownCount / 32));
    this.unknown = new Uint32Array(Math.ceil(unknownCount / 32));
  }

  /** Adds or removes the known operation with rank `slot` (the caller knows which). */
  toggleKnown(slot: number): void {
    this.known[slot >>> 5]! ^= 1 << (slot & 31);
    this.knownHash = (this.knownHash ^ slotHash(slot)) >>> 0;
  }

  toggleUnknown(slot: number): void {
    this.unknown[slot >>> 5]! ^= 1 << (slot & 31);
  }
}

/** murmur3's 32-bit finaliser: spreads consecutive slots over the whole word. */
function slotHash(slot: number): number {
  let h = (slot + 0x9e3779b9) >>> 0;
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

function isSubset(small: Uint32Array, large: Uint32Array): boolean {
  for (let i = 0; i < small.length; i++) {
    if ((small[i]! & ~large[i]!) !== 0) return false;
  }
  return true;
}

/** One recorded node. */
export interface Visit {
  readonly unknown: Uint32Array;
  /** Set once a node with the same known set and state and fewer unknown operations is recorded. */
  superseded: boolean;
}

interface KnownSetVisits {
  readonly known: Uint32Array;
  /** Live visits with this known set; no one's unknown set is a subset of another's. */
  readonly visits: Visit[];
}

export class VisitedNodes {
  private readonly byState = new Map<string, Map<number, KnownSetVisits[]>>();

  /** Whether a recorded node dominates this one (without recording it). */
  dominates(placed: PlacedSet, stateKey: string): boolean {
    const bucket = this.byState.get(stateKey)?.get(placed.knownHash);
    const sameKnown = bucket?.find((v) => sameWords(v.known, placed.known));
    return sameKnown?.visits.some((seen) => isSubset(seen.unknown, placed.unknown)) ?? false;
  }

  /** Records the node; returns undefined when a recorded node dominates it. */
  add(placed: PlacedSet, stateKey: string): Visit | undefined {
    let byHash = this.byState.get(stateKey);
    if (byHash === undefined) {
      byHash = new Map();
      this.byState.set(stateKey, byHash);
    }
    let bucket = byHash.get(placed.knownHash);
    if (bucket === undefined) {
      bucket = [];
      byHash.set(placed.knownHash, bucket);
    }
    let sameKnown = bucket.find((v) => sameWords(v.known, placed.known));
    if (sameKnown === undefined) {
      sameKnown = { known: placed.known.slice(), visits: [] };
      bucket.push(sameKnown);
    }
    const visits = sameKnown.visits;
    for (const seen of visits) {
      if (isSubset(seen.unknown, placed.unknown)) return undefined;
    }
    // Visits with a superset of the new node's unknown operations are
    // dominated from now on: drop them so the list stays an antichain.
    let kept = 0;
    for (const seen of visits) {
      if (isSubset(placed.unknown, seen.unknown)) seen.superseded = true;
      else visits[kept++] = seen;
    }
    visits.length = kept;
    const visit: Visit = { unknown: placed.unknown.slice(), superseded: false };
    visits.push(visit);
    return visit;
  }
}
