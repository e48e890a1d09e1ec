/**
 * The sorted circle of points shared by the virtual-node ring and ketama:
 * parallel typed arrays of positions (uint32, ascending) and owning node
 * indices, plus a small index over the top bits of the position so a lookup
 * is a table read and a short binary search.
 */

/** One node's points, with the value that orders it among equal positions. */
export interface NodePoints {
  readonly nodeIndex: number;
  readonly tieRank: number;
  readonly points: Uint32Array;
}

const TIE_SPACE = 0x100000; // 2^20: room for the tie rank below the position

export class Continuum {
  readonly positions: Uint32Array;
  readonly owners: Int32Array;
  private readonly shift: number;
  private readonly starts: Uint32Array;

  private constructor(positions: Uint32Array, owners: Int32Array) {
    this.positions = positions;
    this.owners = owners;
    const count = positions.length;
    const bits = Math.max(1, Math.min(20, Math.ceil(Math.log2(Math.max(count, 2))) - 1));
    this.shift = 32 - bits;
    const buckets = 1 << bits;
    const starts = new Uint32Array(buckets + 1);
    let at = 0;
    for (let b = 0; b <= buckets; b++) {
      while (at < count && positions[at]! >>> this.shift < b) at++;
      starts[b] = at;
    }
    this.starts = starts;
  }

  static empty(): Continuum {
    return new Continuum(new Uint32Array(0), new Int32Array(0));
  }

  /**
   * Sorts every node's points by (position, tieRank). Equal positions are
   * rare (a 32-bit collision) but must resolve the same way everywhere.
   */
  static build(nodes: readonly NodePoints[]): Continuum {
    if (nodes.length > TIE_SPACE)
      throw new RangeError(`at most ${TIE_SPACE} nodes fit a continuum`);
    let total = 0;
    for (const n of nodes) total += n.points.length;
    const packed = new Float64Array(total);
    const indexByRank = new Int32Array(nodes.length);
    let at = 0;
    for (const n of nodes) {
      if (!(n.tieRank >= 0 && n.tieRank < nodes.length)) {
        throw new RangeError(`tie rank ${n.tieRank} out of range`);
      }
      indexByRank[n.tieRank] = n.nodeIndex;
      for (let i = 0; i < n.points.length; i++) packed[at++] = n.points[i]! * TIE_SPACE + n.tieRank;
    }
    packed.sort();
    const positions = new Uint32Array(total);
    const owners = new Int32Array(total);
    for (let i = 0; i < total; i++) {
      const value = packed[i]!;
      const position = Math.floor(value / TIE_SPACE);
      positions[i] = position;
      owners[i] = indexByRank[value - position * TIE_SPACE]!;
    }
    return new Continuum(positions, owners);
  }

  get size(): number {
    return this.positions.length;
  }

  /**
   * A new continuum with one more node's points merged in: O(points), no
   * re-sort. `winsTie(owner)` says whether the new node's point goes before an
   * existing point of `owner` at the same position.
   */
  withNode(points: Uint32Array, nodeIndex: number, winsTie: (owner: number) => boolean): Continuum {
    const added = Uint32Array.from(points).sort();
    const total = this.positions.length + added.length;
    const positions = new Uint32Array(total);
    const owners = new Int32Array(total);
    let i = 0;
    let j = 0;
    for (let out = 0; out < total; out++) {
      const takeOld =
        j === added.length ||
        (i < this.positions.length &&
          (this.positions[i]! < added[j]! ||
            (this.positions[i]! === added[j]! && !winsTie(this.owners[i]!))));
      if (takeOld) {
        positions[out] = this.positions[i]!;
        owners[out] = this.owners[i]!;
        i++;
      } else {
        positions[out] = added[j]!;
        owners[out] = nodeIndex;
        j++;
      }
    }
    return new Continuum(positions, owners);
  }

  /** A new continuum without `nodeIndex`'s points; higher indices shift down by one. */
  withoutNode(nodeIndex: number): Continuum {
    let kept = 0;
    for (let i = 0; i < this.owners.length; i++) if (this.owners[i] !== nodeIndex) kept++;
    const positions = new Uint32Array(kept);
    const owners = new Int32Array(kept);
    let out = 0;
    for (let i = 0; i < this.owners.length; i++) {
      const owner = this.owners[i]!;
      if (owner === nodeIndex) continue;
      positions[out] = this.positions[i]!;
      owners[out] = owner > nodeIndex ? owner - 1 : owner;
      out++;
    }
    return new Continuum(positions, owners);
  }

  /**
   * Index of the first point at or clockwise after `hash` (wrapping to 0).
   * `hash` may be given as uint32 or as the same bits in an int32.
   */
  find(hash: number): number {
    const positions = this.positions;
    const h = hash >>> 0;
    const bucket = h >>> this.shift;
    let lo = this.starts[bucket]!;
    let hi = this.starts[bucket + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (positions[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === positions.length ? 0 : lo;
  }

  /** Owner index of the point that serves `hash`. The continuum must not be empty. */
  ownerOf(hash: number): number {
    return this.owners[this.find(hash)]!;
  }

  /**
   * Appends to `out` the first `count` distinct owners met walking clockwise
   * from `hash`. `seen` must hold one slot per node; `stamp` must differ from
   * every value already in it. Returns how many were found (fewer only if the
   * circle holds fewer distinct owners).
   */
  distinctOwners(
    hash: number,
    count: number,
    seen: Uint32Array,
    stamp: number,
    out: number[],
  ): number {
    const total = this.positions.length;
    let at = this.find(hash);
    let found = 0;
    for (let step = 0; step < total && found < count; step++) {
      const owner = this.owners[at]!;
      if (seen[owner] !== stamp) {
        seen[owner] = stamp;
        out.push(owner);
        found++;
      }
      at = at + 1 === total ? 0 : at + 1;
    }
    return found;
  }

  /**
   * Visits owners clockwise from `hash`, one per point, until `accept` returns
   * true; returns that owner, or -1 after a full turn without one.
   */
  walk(hash: number, accept: (owner: number) => boolean): number {
    const total = this.positions.length;
    let at = total === 0 ? 0 : this.find(hash);
    for (let step = 0; step < total; step++) {
      const owner = this.owners[at]!;
      if (accept(owner)) return owner;
      at = at + 1 === total ? 0 : at + 1;
    }
    return -1;
  }

  /** Bytes held by the typed arrays (the structure's memory, give or take headers). */
  get byteLength(): number {
    return this.positions.byteLength + this.owners.byteLength + this.starts.byteLength;
  }
}
