/**
 * Memory that big records are encoded into for an LMDB transaction, reused
 * once that transaction has landed.
 *
 * Why: V8 counts every new ArrayBuffer against the heap's limit for a full
 * collection (a limit sized from the JS heap alone, tens of MB). A member
 * taking 1 MiB values allocated a fresh encoded record per put, on top of
 * the socket reads and frames every put needs, and ran a full collection
 * every few puts. A buffer taken from here is allocated once and written
 * again and again.
 *
 * lmdb-js reads a value's bytes from where they lie when its write thread
 * runs the transaction, so a buffer is handed back only after the
 * transaction that wrote it has landed (or failed).
 */
import { invariant } from "../../raft/core/errors.js";

export interface RecordBufferOptions {
  /** Records smaller than this are not pooled: a small allocation is cheap and dies young. */
  readonly minBytes: number;
  /** Free buffers kept for reuse, in bytes at most; more are let go. */
  readonly maxFreeBytes: number;
  /** Records bigger than this are not pooled (a rare huge value would pin its size). */
  readonly maxBytes: number;
}

export const DEFAULT_RECORD_BUFFERS: RecordBufferOptions = {
  minBytes: 64 * 1024,
  maxFreeBytes: 16 * 1024 * 1024,
  maxBytes: 4 * 1024 * 1024,
};

/** Capacity is rounded up to this, so values of nearly the same size share buffers. */
const GRAIN_BYTES = 64 * 1024;

export class RecordBuffers {
  /** Free buffers, smallest first. */
  private free: ArrayBuffer[] = [];
  private freeBytes = 0;
  /** Memory handed out and not given back yet. */
  private readonly lent = new Set<ArrayBuffer>();

  constructor(private readonly options: RecordBufferOptions = DEFAULT_RECORD_BUFFERS) {}

  /** Bytes held by free buffers (for tests and metrics). */
  get heldBytes(): number {
    return this.freeBytes;
  }

  /** Whether a record of `size` bytes is taken from here rather than allocated. */
  pools(size: number): boolean {
    return size >= this.options.minBytes && size <= this.options.maxBytes;
  }

  /**
   * A Buffer of exactly `size` bytes over pooled memory (the smallest free
   * buffer that fits, or a new one). It must be given back with `give`, and
   * not used after that.
   */
  take(size: number): Buffer {
    let i = 0;
    while (i < this.free.length && this.free[i]!.byteLength < size) i++;
    let memory: ArrayBuffer;
    if (i < this.free.length) {
      memory = this.free[i]!;
      this.free.splice(i, 1);
      this.freeBytes -= memory.byteLength;
    } else {
      memory = new ArrayBuffer(Math.ceil(size / GRAIN_BYTES) * GRAIN_BYTES);
    }
    this.lent.add(memory);
    return Buffer.from(memory, 0, size);
  }

  /** Takes back buffers `take` handed out, once nothing reads them any more. */
  give(buffers: readonly Buffer[]): void {
    for (const b of buffers) {
      const memory = b.buffer as ArrayBuffer;
      invariant(this.lent.delete(memory), "a record buffer was given back that was not lent");
      if (this.freeBytes + memory.byteLength > this.options.maxFreeBytes) continue;
      let i = 0;
      while (i < this.free.length && this.free[i]!.byteLength < memory.byteLength) i++;
      this.free.splice(i, 0, memory);
      this.freeBytes += memory.byteLength;
    }
  }
}
