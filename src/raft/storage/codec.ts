import { concatParts } from "../../byte-parts.js";
import type { ConfState, HardState, NodeId, SnapshotMetadata } from "../core/types.js";

const TWO_POW_32 = 0x1_0000_0000;

/** A payload did not decode; the caller turns this into a StorageCorruptionError with a location. */
export class DecodeError extends Error {}

/** `ByteWriter.ref` takes binaries of at least this many bytes by reference instead of copying them. */
export const REF_MIN_BYTES = 16 * 1024;

/**
 * Appends little-endian fields to a growing buffer. Big binaries appended
 * with `ref` are not copied: the output is then a list of parts (`parts()`),
 * the writer's own bytes between the binaries it refers to, to be written
 * with one vectored write. Offsets (`length`, `patchU32`, `spans`) count
 * every byte, own or referred to.
 */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  /** Own bytes written into `buf`. */
  private pos = 0;
  /** Binaries taken by reference, each at its offset in the output. */
  private readonly refs: { readonly at: number; readonly bytes: Uint8Array }[] = [];
  private refBytes = 0;

  constructor(initialBytes = 256) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  /** Bytes written so far, own and referred to. */
  get length(): number {
    return this.pos + this.refBytes;
  }

  private reserve(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  /** A non-negative safe integer as 64 bits. */
  u64(v: number): void {
    this.reserve(8);
    this.view.setUint32(this.pos, v % TWO_POW_32, true);
    this.view.setUint32(this.pos + 4, Math.floor(v / TWO_POW_32), true);
    this.pos += 8;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /**
   * Appends `b` without copying it when it is REF_MIN_BYTES or more: the
   * caller must not change those bytes until the output has been written.
   */
  ref(b: Uint8Array): void {
    if (b.length < REF_MIN_BYTES) {
      this.bytes(b);
      return;
    }
    this.refs.push({ at: this.length, bytes: b });
    this.refBytes += b.length;
  }

  /** Zero bytes until the length is a multiple of `alignment`. */
  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.reserve(pad);
    this.buf.fill(0, this.pos, this.pos + pad);
    this.pos += pad;
  }

  /** Overwrites a u32 written earlier (for lengths and checksums known only later). */
  patchU32(at: number, v: number): void {
    let own = at;
    for (const r of this.refs) {
      if (r.at >= at + 4) break;
      if (r.at + r.bytes.length > at)
        throw new RangeError(`patch at ${at} falls in a referred binary`);
      own -= r.bytes.length;
    }
    this.view.setUint32(own, v, true);
  }

  /**
   * The output's bytes in [from, to), as ranges of the parts that hold them,
   * in order, none empty: one range when nothing is referred to.
   */
  spans(from: number, to: number): [bytes: Uint8Array, start: number, end: number][] {
    if (this.refs.length === 0) return from < to ? [[this.buf, from, to]] : [];
    const out: [Uint8Array, number, number][] = [];
    // `at`: the output offset where the piece starts; `start`: where it starts in `bytes`.
    const take = (bytes: Uint8Array, start: number, at: number, length: number) => {
      const lo = Math.max(from, at);
      const hi = Math.min(to, at + length);
      if (lo < hi) out.push([bytes, start + lo - at, start + hi - at]);
    };
    let own = 0;
    let at = 0;
    for (const r of this.refs) {
      const ownLength = r.at - at;
      take(this.buf, own, at, ownLength);
      own += ownLength;
      take(r.bytes, 0, r.at, r.bytes.length);
      at = r.at + r.bytes.length;
    }
    take(this.buf, own, at, this.pos - own);
    return out;
  }

  /** The output: own bytes (views that share memory until the next write) and referred binaries. */
  parts(): Uint8Array[] {
    if (this.refs.length === 0) return this.pos > 0 ? [this.buf.subarray(0, this.pos)] : [];
    return this.spans(0, this.length).map(([bytes, start, end]) =>
      start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end),
    );
  }

  /** A view of the bytes written so far (shares memory until the next write); none referred to. */
  view0(): Uint8Array {
    if (this.refs.length > 0) throw new RangeError("view0 of a writer holding referred binaries");
    return this.buf.subarray(0, this.pos);
  }

  /** A copy of the bytes written so far, in one buffer. */
  finish(): Uint8Array {
    return this.refs.length === 0 ? this.buf.slice(0, this.pos) : concatParts(this.parts());
  }
}

/** Reads little-endian fields, throwing DecodeError on any overrun or out-of-range value. */
export class ByteReader {
  private readonly view: DataView;
  pos: number;

  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    private readonly end = buf.length,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.end) throw new DecodeError(`truncated ${what}`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what: string): number {
    this.need(8, what);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    const v = hi * TWO_POW_32 + lo;
    if (!Number.isSafeInteger(v)) throw new DecodeError(`${what} ${v} is not a safe integer`);
    return v;
  }

  /** A view sharing the buffer (for buffers the caller owns). */
  bytesView(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  expectEnd(what: string): void {
    if (this.pos !== this.end) {
      throw new DecodeError(`${this.end - this.pos} unexpected trailing bytes after ${what}`);
    }
  }
}

function writeIds(w: ByteWriter, ids: readonly NodeId[]): void {
  w.u32(ids.length);
  for (const id of ids) w.u64(id);
}

function readIds(r: ByteReader, what: string): NodeId[] {
  const n = r.u32(`${what} count`);
  if (n * 8 > r.remaining) throw new DecodeError(`${what} count ${n} exceeds the record`);
  const ids: NodeId[] = [];
  for (let i = 0; i < n; i++) {
    const id = r.u64(what);
    if (id <= 0) throw new DecodeError(`${what} holds node id ${id}`);
    ids.push(id);
  }
  return ids;
}

export function writeConfState(w: ByteWriter, cs: ConfState): void {
  writeIds(w, cs.voters);
  writeIds(w, cs.votersOutgoing);
  writeIds(w, cs.learners);
  writeIds(w, cs.learnersNext);
  w.u8(cs.autoLeave ? 1 : 0);
}

export function readConfState(r: ByteReader): ConfState {
  const voters = readIds(r, "voters");
  const votersOutgoing = readIds(r, "outgoing voters");
  const learners = readIds(r, "learners");
  const learnersNext = readIds(r, "next learners");
  const autoLeave = r.u8("autoLeave");
  if (autoLeave > 1) throw new DecodeError(`autoLeave flag ${autoLeave}`);
  return { voters, votersOutgoing, learners, learnersNext, autoLeave: autoLeave === 1 };
}

export function writeHardState(w: ByteWriter, hs: HardState): void {
  w.u64(hs.term);
  w.u64(hs.vote);
  w.u64(hs.commit);
}

export function readHardState(r: ByteReader): HardState {
  return { term: r.u64("term"), vote: r.u64("vote"), commit: r.u64("commit") };
}

function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export function sameConfState(a: ConfState, b: ConfState): boolean {
  return (
    sameIds(a.voters, b.voters) &&
    sameIds(a.votersOutgoing, b.votersOutgoing) &&
    sameIds(a.learners, b.learners) &&
    sameIds(a.learnersNext, b.learnersNext) &&
    a.autoLeave === b.autoLeave
  );
}

export function sameSnapshotMetadata(a: SnapshotMetadata, b: SnapshotMetadata): boolean {
  return a.index === b.index && a.term === b.term && sameConfState(a.confState, b.confState);
}
