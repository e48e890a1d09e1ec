import { SnapshotStreamError } from "./errors.js";

export interface StreamFlowControl {
  /** Called when buffered bytes reach the high-water mark: stop reading the socket. */
  pause(): void;
  /** Called when the consumer has drained to half of it: read again. */
  resume(): void;
}

/**
 * The receiving end of a streamed snapshot, handed to the snapshot handler as
 * an AsyncIterable. The connection pushes chunks in; once `highWaterBytes`
 * are buffered it is told to pause, so a slow consumer (a disk) holds back
 * the sender instead of filling memory. Single-use: one iterator.
 */
export class SnapshotByteStream implements AsyncIterable<Uint8Array> {
  private readonly chunks: Uint8Array[] = [];
  private head = 0;
  private buffered = 0;
  private paused = false;
  private ended = false;
  private error: Error | undefined;
  private waiter: (() => void) | undefined;
  private iterated = false;
  /** The consumer read past the last chunk and saw a clean end. */
  consumedToEnd = false;
  /** The consumer stopped iterating before the end. */
  abandoned = false;

  constructor(
    private readonly highWaterBytes: number,
    private readonly flow: StreamFlowControl,
  ) {}

  get bufferedBytes(): number {
    return this.buffered;
  }

  get finished(): boolean {
    return this.ended || this.error !== undefined;
  }

  push(chunk: Uint8Array): void {
    if (this.finished || this.abandoned) return;
    this.chunks.push(chunk);
    this.buffered += chunk.byteLength;
    if (!this.paused && this.buffered >= this.highWaterBytes) {
      this.paused = true;
      this.flow.pause();
    }
    this.wake();
  }

  end(): void {
    if (this.finished) return;
    this.ended = true;
    this.wake();
  }

  fail(error: Error): void {
    if (this.finished) return;
    this.error = error;
    this.chunks.length = 0;
    this.head = 0;
    this.buffered = 0;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private take(): Uint8Array | undefined {
    if (this.head >= this.chunks.length) return undefined;
    const chunk = this.chunks[this.head] as Uint8Array;
    this.chunks[this.head] = EMPTY;
    this.head++;
    if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
    }
    this.buffered -= chunk.byteLength;
    if (this.paused && this.buffered <= this.highWaterBytes / 2) {
      this.paused = false;
      this.flow.resume();
    }
    return chunk;
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.iterated) throw new SnapshotStreamError("the snapshot stream can be read only once");
    this.iterated = true;
    return {
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        for (;;) {
          if (this.error !== undefined) throw this.error;
          if (this.abandoned) return { done: true, value: undefined };
          const chunk = this.take();
          if (chunk !== undefined) return { done: false, value: chunk };
          if (this.ended) {
            this.consumedToEnd = true;
            return { done: true, value: undefined };
          }
          await new Promise<void>((resolve) => {
            this.waiter = resolve;
          });
        }
      },
      return: async (): Promise<IteratorResult<Uint8Array>> => {
        if (!this.consumedToEnd) this.abandoned = true;
        this.chunks.length = 0;
        this.head = 0;
        this.buffered = 0;
        if (this.paused) {
          this.paused = false;
          this.flow.resume();
        }
        return { done: true, value: undefined };
      },
    };
  }
}

const EMPTY = new Uint8Array(0);
