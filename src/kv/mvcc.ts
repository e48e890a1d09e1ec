import { invariant } from "../raft/core/errors.js";
import { type KeyInterval, type KeyString, toKeyBytes } from "./bytes.js";
import type { KeyValue } from "./types.js";

/** One write to one key. version 0 marks a deletion. */
export interface KeyRecord {
  readonly modRevision: number;
  /** Order of this write inside its revision (etcd's sub-revision). */
  readonly subRevision: number;
  readonly createRevision: number;
  readonly version: number;
  readonly value: Uint8Array;
  readonly lease: number;
}

const EMPTY = new Uint8Array(0);

/**
 * What one retained record is counted as besides its key and value bytes:
 * its revisions, version, lease and key-index entry. An estimate in the
 * spirit of etcd's quota cost, not a measure of this process's heap.
 */
export const RECORD_OVERHEAD_BYTES = 64;

/** One record's share of a backend's size estimate and of a write's quota cost. */
export function recordSizeBytes(key: KeyString, r: KeyRecord): number {
  return key.length + r.value.byteLength + RECORD_OVERHEAD_BYTES;
}

export function isTombstone(r: KeyRecord): boolean {
  return r.version === 0;
}

export function toKeyValue(key: KeyString, r: KeyRecord): KeyValue {
  return {
    key: toKeyBytes(key),
    createRevision: r.createRevision,
    modRevision: r.modRevision,
    version: r.version,
    value: r.value,
    lease: r.lease,
  };
}

export function tombstone(modRevision: number, subRevision: number): KeyRecord {
  return { modRevision, subRevision, createRevision: 0, version: 0, value: EMPTY, lease: 0 };
}

/** The record in force at `revision`: the last one written at or before it. */
export function recordAt(history: readonly KeyRecord[], revision: number): KeyRecord | undefined {
  let lo = 0;
  let hi = history.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (history[mid]!.modRevision <= revision) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? undefined : history[lo - 1];
}

/**
 * How a backend lets the key index hold records as numbers: records whose
 * value it reads back by revision, so the numbers are all there is to them.
 */
export interface RecordNumbers {
  /** Whether `record` is one of the backend's own, to be held as numbers. */
  holds(record: KeyRecord): boolean;
  /** The record the numbers stand for. */
  revive(
    modRevision: number,
    subRevision: number,
    createRevision: number,
    version: number,
    lease: number,
  ): KeyRecord;
}

/** Numbers per record held as numbers (PackedHistory, RecordSlots). */
const FIELDS = 5;

/** Writes a record's FIELDS numbers at `at`. */
function writeNumbers(n: Float64Array, at: number, r: KeyRecord): void {
  n[at] = r.modRevision;
  n[at + 1] = r.subRevision;
  n[at + 2] = r.createRevision;
  n[at + 3] = r.version;
  n[at + 4] = r.lease;
}

/** The record whose FIELDS numbers are at `at`. */
function reviveNumbers(backend: RecordNumbers, n: Float64Array, at: number): KeyRecord {
  return backend.revive(n[at]!, n[at + 1]!, n[at + 2]!, n[at + 3]!, n[at + 4]!);
}

/**
 * A key's records but the latest as numbers, FIELDS each, in a typed array
 * (its bytes are outside the JS heap), and the latest as the object it was
 * appended as. An object per retained revision cost 80 bytes of heap; here
 * a revision costs 40 bytes, which the collector neither traces nor counts
 * when it sizes the heap.
 */
class PackedHistory {
  private numbers = new Float64Array(FIELDS * 2);
  /** Records held as numbers: all but the latest. */
  private older = 0;

  constructor(
    first: KeyRecord,
    public latest: KeyRecord,
    private readonly backend: RecordNumbers,
  ) {
    this.write(0, first);
    this.older = 1;
  }

  get length(): number {
    return this.older + 1;
  }

  push(record: KeyRecord): void {
    if ((this.older + 1) * FIELDS > this.numbers.length) {
      const grown = new Float64Array(this.numbers.length * 2);
      grown.set(this.numbers);
      this.numbers = grown;
    }
    this.write(this.older, this.latest);
    this.older++;
    this.latest = record;
  }

  modRevision(i: number): number {
    return i < this.older ? this.numbers[i * FIELDS]! : this.latest.modRevision;
  }

  version(i: number): number {
    return i < this.older ? this.numbers[i * FIELDS + 3]! : this.latest.version;
  }

  record(i: number): KeyRecord {
    return i >= this.older ? this.latest : reviveNumbers(this.backend, this.numbers, i * FIELDS);
  }

  records(): KeyRecord[] {
    const out: KeyRecord[] = new Array(this.length);
    for (let i = 0; i < out.length; i++) out[i] = this.record(i);
    return out;
  }

  /** Drops the first `n` records, all of them held as numbers; returns them. */
  dropFirst(n: number): KeyRecord[] {
    invariant(n <= this.older, "a packed history drops its latest record");
    const dropped: KeyRecord[] = [];
    for (let i = 0; i < n; i++) dropped.push(this.record(i));
    this.numbers.copyWithin(0, n * FIELDS, this.older * FIELDS);
    this.older -= n;
    if (this.numbers.length > FIELDS * 2 && this.older * FIELDS * 4 <= this.numbers.length) {
      this.numbers = this.numbers.slice(0, Math.max(FIELDS * 2, this.older * FIELDS * 2));
    }
    return dropped;
  }

  private write(i: number, r: KeyRecord): void {
    invariant(this.backend.holds(r), "a packed history holds only its backend's records");
    writeNumbers(this.numbers, i * FIELDS, r);
  }
}

/**
 * With RecordNumbers, the records of every key that has just one, as
 * numbers: FIELDS per slot in one typed array, its bytes outside the JS
 * heap. The key index holds the slot's number (a small integer, nothing
 * for the collector to trace) and revives the record when it is read. An
 * object per key cost 72 bytes of heap, which every full collection marked
 * and V8 sized its headroom from. Freed slots are chained through their
 * first field.
 */
class RecordSlots {
  private numbers!: Float64Array;
  /** Slots ever handed out; the free ones among them are chained from freeHead. */
  private used!: number;
  private freeHead!: number;

  constructor(private readonly backend: RecordNumbers) {
    this.clear();
  }

  /** Takes a slot for `r`, one of the backend's own records (RecordNumbers.holds). */
  add(r: KeyRecord): number {
    let slot = this.freeHead;
    if (slot >= 0) {
      this.freeHead = this.numbers[slot * FIELDS]!;
    } else {
      if ((this.used + 1) * FIELDS > this.numbers.length) {
        const grown = new Float64Array(this.numbers.length * 2);
        grown.set(this.numbers);
        this.numbers = grown;
      }
      slot = this.used++;
    }
    writeNumbers(this.numbers, slot * FIELDS, r);
    return slot;
  }

  release(slot: number): void {
    this.numbers[slot * FIELDS] = this.freeHead;
    this.freeHead = slot;
  }

  modRevision(slot: number): number {
    return this.numbers[slot * FIELDS]!;
  }

  version(slot: number): number {
    return this.numbers[slot * FIELDS + 3]!;
  }

  record(slot: number): KeyRecord {
    return reviveNumbers(this.backend, this.numbers, slot * FIELDS);
  }

  clear(): void {
    this.numbers = new Float64Array(FIELDS * 1024);
    this.used = 0;
    this.freeHead = -1;
  }
}

/** A key's retained records: one (as an object, or a RecordSlots slot), or several. */
type History = KeyRecord | number | KeyRecord[] | PackedHistory;

/**
 * Every key's history since the compaction point, plus a sorted key list for
 * interval scans. New keys are appended to a pending list and merged on the
 * next scan, so a burst of creations costs one sort rather than n splices.
 */
export class KeyHistories {
  /**
   * Each key's records in revision order. A key with one record (most keys,
   * between compactions) holds it without an array: a million keys spare
   * a million arrays. With RecordNumbers, that record is a slot of
   * RecordSlots, and a key with more holds all but its latest as numbers
   * (PackedHistory).
   */
  private readonly histories = new Map<KeyString, History>();
  private sorted: KeyString[] = [];
  private pending: KeyString[] = [];
  private readonly slots: RecordSlots | undefined;

  constructor(private readonly numbers?: RecordNumbers) {
    this.slots = numbers === undefined ? undefined : new RecordSlots(numbers);
  }

  get size(): number {
    return this.histories.size;
  }

  /** The key's records in revision order; made afresh for a packed history. */
  history(key: KeyString): readonly KeyRecord[] | undefined {
    const h = this.histories.get(key);
    return h === undefined ? undefined : this.asArray(h);
  }

  /** The key's record in force at `revision` (see recordAt). */
  at(key: KeyString, revision: number): KeyRecord | undefined {
    const h = this.histories.get(key);
    if (h === undefined) return undefined;
    if (typeof h === "number") {
      return this.slots!.modRevision(h) <= revision ? this.slots!.record(h) : undefined;
    }
    if (Array.isArray(h)) return recordAt(h, revision);
    if (h instanceof PackedHistory) {
      if (h.latest.modRevision <= revision) return h.latest;
      let lo = 0;
      let hi = h.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (h.modRevision(mid) <= revision) lo = mid + 1;
        else hi = mid;
      }
      return lo === 0 ? undefined : h.record(lo - 1);
    }
    return h.modRevision <= revision ? h : undefined;
  }

  /** The key's last record, a tombstone included. */
  latest(key: KeyString): KeyRecord | undefined {
    const h = this.histories.get(key);
    if (h === undefined) return undefined;
    if (typeof h === "number") return this.slots!.record(h);
    if (Array.isArray(h)) return h[h.length - 1];
    return h instanceof PackedHistory ? h.latest : h;
  }

  append(key: KeyString, record: KeyRecord): void {
    const h = this.histories.get(key);
    if (h === undefined) {
      this.histories.set(key, this.single(record));
      this.pending.push(key);
    } else if (Array.isArray(h) || h instanceof PackedHistory) {
      h.push(record);
    } else if (typeof h === "number") {
      const first = this.slots!.record(h);
      this.slots!.release(h);
      this.histories.set(key, new PackedHistory(first, record, this.numbers!));
    } else {
      this.histories.set(key, [h, record]);
    }
  }

  /** Keys in the interval that have any retained history, in byte order. */
  keysIn(iv: KeyInterval): KeyString[] {
    return [...this.scanKeys(iv)];
  }

  /**
   * The same keys, one at a time, so a scan that stops early (a byte budget)
   * costs what it read rather than the whole interval. Do not write to the
   * histories while a scan is open.
   */
  *scanKeys(iv: KeyInterval): Generator<KeyString, void, undefined> {
    if (iv.end === undefined) {
      if (this.histories.has(iv.start)) yield iv.start;
      return;
    }
    const keys = this.sortedKeys();
    for (let i = lowerBound(keys, iv.start); i < keys.length; i++) {
      const k = keys[i]!;
      if (iv.end !== null && k >= iv.end) return;
      yield k;
    }
  }

  /**
   * Drops every record superseded at or before `revision`, and deletion
   * markers at or before it, as etcd's compaction does. Returns what it dropped.
   */
  compact(revision: number): KeyRecord[] {
    const dropped: KeyRecord[] = [];
    let removed = false;
    for (const [key, h] of this.histories) {
      if (typeof h === "number") {
        const slots = this.slots!;
        if (slots.modRevision(h) <= revision && slots.version(h) === 0) {
          this.histories.delete(key);
          dropped.push(slots.record(h));
          slots.release(h);
          removed = true;
        }
        continue;
      }
      if (!Array.isArray(h) && !(h instanceof PackedHistory)) {
        if (h.modRevision <= revision && isTombstone(h)) {
          this.histories.delete(key);
          dropped.push(h);
          removed = true;
        }
        continue;
      }
      const keepFrom = compactionStart(h, revision);
      if (keepFrom === 0) continue;
      if (keepFrom >= h.length) {
        this.histories.delete(key);
        dropped.push(...this.asArray(h));
        removed = true;
        continue;
      }
      dropped.push(...(Array.isArray(h) ? h.splice(0, keepFrom) : h.dropFirst(keepFrom)));
      if (h.length === 1) this.histories.set(key, this.single(Array.isArray(h) ? h[0]! : h.latest));
    }
    if (removed) {
      const live = (k: KeyString) => this.histories.has(k);
      this.sorted = this.sorted.filter(live);
      this.pending = this.pending.filter(live);
    }
    return dropped;
  }

  entries(): IterableIterator<[KeyString, readonly KeyRecord[]]> {
    this.sortedKeys();
    const self = this;
    return (function* () {
      for (const k of self.sorted) yield [k, self.asArray(self.histories.get(k)!)];
    })();
  }

  clear(): void {
    this.histories.clear();
    this.slots?.clear();
    this.sorted = [];
    this.pending = [];
  }

  /** How a key with one record holds it: in a slot when the backend's numbers can stand for it. */
  private single(record: KeyRecord): KeyRecord | number {
    return this.slots !== undefined && this.numbers!.holds(record)
      ? this.slots.add(record)
      : record;
  }

  private asArray(h: History): KeyRecord[] {
    if (typeof h === "number") return [this.slots!.record(h)];
    if (Array.isArray(h)) return h;
    return h instanceof PackedHistory ? h.records() : [h];
  }

  private sortedKeys(): KeyString[] {
    if (this.pending.length > 0) {
      this.pending.sort();
      this.sorted = mergeSorted(this.sorted, this.pending);
      this.pending = [];
    }
    return this.sorted;
  }
}

/**
 * Where compaction at `revision` starts keeping a history of several
 * records: at the record in force at `revision`, or after it when that one
 * is a deletion. 0 keeps everything; `h.length` drops the key.
 */
function compactionStart(h: KeyRecord[] | PackedHistory, revision: number): number {
  const modRevision = (i: number) => (Array.isArray(h) ? h[i]!.modRevision : h.modRevision(i));
  let keepFrom = 0;
  for (let i = 0; i < h.length && modRevision(i) <= revision; i++) keepFrom = i;
  const deleted = Array.isArray(h) ? isTombstone(h[keepFrom]!) : h.version(keepFrom) === 0;
  return modRevision(keepFrom) <= revision && deleted ? keepFrom + 1 : keepFrom;
}

function lowerBound(keys: readonly KeyString[], key: KeyString): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function mergeSorted(a: KeyString[], b: KeyString[]): KeyString[] {
  if (a.length === 0) return b;
  if (a[a.length - 1]! < b[0]!) return a.concat(b);
  const out: KeyString[] = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length && j < b.length) out[n++] = a[i]! < b[j]! ? a[i++]! : b[j++]!;
  while (i < a.length) out[n++] = a[i++]!;
  while (j < b.length) out[n++] = b[j++]!;
  return out;
}
