import { randomBytes } from "node:crypto";
import { invariant } from "../raft/core/errors.js";

/**
 * Where the request log keeps what it remembers, outside the JS heap: the
 * entries' bytes in slabs (ByteArena), their add order (AddOrder) and the
 * index from request id to entry (IdTable), all in typed arrays. At a full
 * window of 100,000 requests, a Map from id strings and arrays of ids held
 * about 15 MB on the heap, which every full collection marks and V8 sizes
 * its headroom by.
 */

/** Where an entry's bytes are in a ByteArena: slab number × SLAB_BYTES + offset. */
export type Handle = number;

const SLAB_BYTES = 64 * 1024;
const LENGTH_BYTES = 4;

/**
 * Bump allocation in 64 KiB slabs, each entry named by a number. Entries
 * are forgotten oldest first, so slabs are released from the front once the
 * oldest entry still remembered lies past them; an entry forgotten out of
 * turn (its id used again) keeps its bytes until then. A slab is never
 * written twice, so a view handed out (to a snapshot) stays valid after its
 * slab is released. Each entry is prefixed with its length; an entry over a
 * quarter slab gets a slab of its own. Copying into slabs matters: each
 * small Buffer or hash output would otherwise keep alive the whole pool or
 * working buffer it was sliced from, up to 8 KiB each.
 */
export class ByteArena {
  private slabs: Buffer[] = [];
  /** The number of the first slab in `slabs`: those before it were released. */
  private firstSlab = 0;
  private used = SLAB_BYTES;

  alloc(n: number): Handle {
    const need = LENGTH_BYTES + n;
    if (need > SLAB_BYTES / 4) {
      this.slabs.push(Buffer.alloc(need));
      this.used = SLAB_BYTES; // the next small entry starts a new slab
      return this.write(this.firstSlab + this.slabs.length - 1, 0, n);
    }
    if (this.used + need > SLAB_BYTES) {
      this.slabs.push(Buffer.alloc(SLAB_BYTES));
      this.used = 0;
    }
    const at = this.used;
    this.used += need;
    return this.write(this.firstSlab + this.slabs.length - 1, at, n);
  }

  /** The entry's bytes (a view; no copy). */
  view(handle: Handle): Uint8Array {
    const slab = this.slab(handle);
    const at = handle % SLAB_BYTES;
    // A plain Uint8Array, as the results' bytes were before.
    return new Uint8Array(slab.buffer, slab.byteOffset + at + LENGTH_BYTES, slab.readUInt32BE(at));
  }

  size(handle: Handle): number {
    return this.slab(handle).readUInt32BE(handle % SLAB_BYTES);
  }

  /** The entry's byte at `offset` (no view made). */
  byteAt(handle: Handle, offset: number): number {
    return this.slab(handle)[(handle % SLAB_BYTES) + LENGTH_BYTES + offset]!;
  }

  /** Lets go of every slab before the one holding `handle`. */
  releaseBefore(handle: Handle): void {
    const drop = Math.floor(handle / SLAB_BYTES) - this.firstSlab;
    if (drop <= 0) return;
    this.slabs.splice(0, drop);
    this.firstSlab += drop;
  }

  private write(slabNumber: number, at: number, n: number): Handle {
    this.slabs[slabNumber - this.firstSlab]!.writeUInt32BE(n, at);
    return slabNumber * SLAB_BYTES + at;
  }

  private slab(handle: Handle): Buffer {
    const slab = this.slabs[Math.floor(handle / SLAB_BYTES) - this.firstSlab];
    invariant(slab !== undefined, () => `request arena has no slab for entry ${handle}`);
    return slab;
  }
}

/**
 * A queue of (handle, sequence number) pairs in the order they were added,
 * in one growing Float64Array (handles and numbers stay exact up to 2^53);
 * compacted in place as its front is taken.
 */
export class AddOrder {
  private pairs = new Float64Array(2 * 1024);
  private head = 0;
  private tail = 0;

  push(handle: Handle, seq: number): void {
    if (this.tail === this.pairs.length) this.makeRoom();
    this.pairs[this.tail] = handle;
    this.pairs[this.tail + 1] = seq;
    this.tail += 2;
  }

  /** How many pairs are queued. */
  get length(): number {
    return (this.tail - this.head) / 2;
  }

  /** The handle of the `i`th pair from the front. */
  handleAt(i: number): Handle {
    return this.pairs[this.head + 2 * i]!;
  }

  /** The sequence number of the `i`th pair from the front. */
  seqAt(i: number): number {
    return this.pairs[this.head + 2 * i + 1]!;
  }

  shift(): void {
    invariant(this.head < this.tail, "request add order shifted while empty");
    this.head += 2;
    if (this.head === this.tail) this.head = this.tail = 0;
  }

  /** Moves the queue to the front, or into an array twice its length when over half full. */
  private makeRoom(): void {
    const live = this.tail - this.head;
    const next =
      live * 2 > this.pairs.length ? new Float64Array(this.pairs.length * 2) : this.pairs;
    next.set(this.pairs.subarray(this.head, this.tail), 0);
    this.pairs = next;
    this.head = 0;
    this.tail = live;
  }
}

/** A process's seed for ids' hashes: the table's layout is not part of any state, and an id cannot be chosen to collide. */
const SEED = randomBytes(4).readUInt32LE(0);
const FNV_PRIME = 0x01000193;
const FNV_START = (0x811c9dc5 ^ SEED) >>> 0;

/**
 * Where to find an id's bytes in an arena entry: the table compares ids
 * and hashes them again without making strings.
 */
export interface IdBytes {
  /** The id's length in the entry at `handle`. */
  idLength(handle: Handle): number;
  /** The id's `i`th byte in the entry at `handle`. */
  idByte(handle: Handle, i: number): number;
}

const EMPTY = 0;
const MIN_SLOTS = 1024;

/**
 * From request id to the handle of its entry: open addressing with linear
 * probing over typed arrays, at most half full. A slot holds handle + 1
 * (0 is empty) and the id's hash (FNV-1a over its ASCII characters, from a
 * seed), so a probe compares bytes only when the hashes match. Deleting
 * shifts the following run back (no tombstones), so a table that sees a
 * window's worth of deletes never slows down.
 */
export class IdTable {
  private handles = new Float64Array(MIN_SLOTS);
  private hashes = new Uint32Array(MIN_SLOTS);
  private count = 0;

  /** `shape` maps each hash to another: tests use it to make ids collide where they choose. */
  constructor(
    private readonly ids: IdBytes,
    private readonly shape: (hash: number) => number = (hash) => hash,
  ) {}

  get size(): number {
    return this.count;
  }

  get(id: string): Handle | undefined {
    const slot = this.findId(id, this.hashOfId(id));
    return this.handles[slot] === EMPTY ? undefined : this.handles[slot]! - 1;
  }

  /** Whether the entry at `handle` is the one its id points at. */
  current(handle: Handle): boolean {
    return this.handles[this.findHandle(handle)] !== EMPTY;
  }

  /** Points `id`, whose entry is at `handle`, at it, replacing what it pointed at. */
  set(id: string, handle: Handle): void {
    const h = this.hashOfId(id);
    let slot = this.findId(id, h);
    if (this.handles[slot] === EMPTY) {
      if ((this.count + 1) * 2 > this.handles.length) {
        this.grow();
        slot = this.findId(id, h);
      }
      this.count++;
    }
    this.handles[slot] = handle + 1;
    this.hashes[slot] = h;
  }

  /** Forgets `id`; returns the handle it pointed at. */
  delete(id: string): Handle | undefined {
    const slot = this.findId(id, this.hashOfId(id));
    const stored = this.handles[slot]!;
    this.clear(slot);
    return stored === EMPTY ? undefined : stored - 1;
  }

  /** Forgets the entry at `handle` if its id points at it. */
  deleteEntry(handle: Handle): void {
    this.clear(this.findHandle(handle));
  }

  private clear(slot: number): void {
    if (this.handles[slot] === EMPTY) return;
    this.count--;
    const mask = this.handles.length - 1;
    let hole = slot;
    // Backward shift: move each later entry of the run into the hole unless
    // its home slot lies (cyclically) after the hole and up to it.
    for (let next = (hole + 1) & mask; this.handles[next] !== EMPTY; next = (next + 1) & mask) {
      const home = this.hashes[next]! & mask;
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      this.handles[hole] = this.handles[next]!;
      this.hashes[hole] = this.hashes[next]!;
      hole = next;
    }
    this.handles[hole] = EMPTY;
  }

  /** The slot holding `id`, or the empty slot ending its probe. */
  private findId(id: string, h: number): number {
    const mask = this.handles.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const stored = this.handles[slot]!;
      if (stored === EMPTY) return slot;
      if (this.hashes[slot] === h && this.holds(stored - 1, id)) return slot;
    }
  }

  /** The slot holding `handle`, or the empty slot ending its id's probe. */
  private findHandle(handle: Handle): number {
    const mask = this.handles.length - 1;
    for (let slot = this.hashOfEntry(handle) & mask; ; slot = (slot + 1) & mask) {
      const stored = this.handles[slot]!;
      if (stored === EMPTY || stored === handle + 1) return slot;
    }
  }

  private hashOfId(id: string): number {
    let h = FNV_START;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), FNV_PRIME);
    return this.shape(h >>> 0) >>> 0;
  }

  private hashOfEntry(handle: Handle): number {
    let h = FNV_START;
    const n = this.ids.idLength(handle);
    for (let i = 0; i < n; i++) h = Math.imul(h ^ this.ids.idByte(handle, i), FNV_PRIME);
    return this.shape(h >>> 0) >>> 0;
  }

  private holds(handle: Handle, id: string): boolean {
    if (this.ids.idLength(handle) !== id.length) return false;
    for (let i = 0; i < id.length; i++) {
      if (this.ids.idByte(handle, i) !== id.charCodeAt(i)) return false;
    }
    return true;
  }

  private grow(): void {
    const oldHandles = this.handles;
    const oldHashes = this.hashes;
    this.handles = new Float64Array(oldHandles.length * 2);
    this.hashes = new Uint32Array(oldHandles.length * 2);
    const mask = this.handles.length - 1;
    for (let i = 0; i < oldHandles.length; i++) {
      if (oldHandles[i] === EMPTY) continue;
      let slot = oldHashes[i]! & mask;
      while (this.handles[slot] !== EMPTY) slot = (slot + 1) & mask;
      this.handles[slot] = oldHandles[i]!;
      this.hashes[slot] = oldHashes[i]!;
    }
  }
}
