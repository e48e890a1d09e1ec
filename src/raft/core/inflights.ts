import { invariant } from "./errors.js";

/**
 * Flow control for one follower: the append messages sent and not yet
 * acknowledged, each remembered by its last index and byte size. The leader
 * stops sending when either the count or the byte budget is exhausted.
 */
export class Inflights {
  private readonly lastIndexes: number[] = [];
  private readonly sizes: number[] = [];
  private head = 0;
  bytes = 0;

  constructor(
    readonly maxCount: number,
    readonly maxBytes: number,
  ) {}

  get count(): number {
    return this.lastIndexes.length - this.head;
  }

  add(lastIndex: number, bytes: number): void {
    invariant(!this.full(), "cannot add to full inflights");
    const prev = this.lastIndexes[this.lastIndexes.length - 1];
    invariant(
      prev === undefined || this.count === 0 || lastIndex >= prev,
      () => `inflight index ${lastIndex} goes backwards from ${prev}`,
    );
    this.lastIndexes.push(lastIndex);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Frees every message whose last index is <= `index`. */
  freeLE(index: number): void {
    while (this.head < this.lastIndexes.length && this.lastIndexes[this.head]! <= index) {
      this.bytes -= this.sizes[this.head]!;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.lastIndexes.length) {
      this.lastIndexes.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Frees the oldest message, e.g. when a heartbeat response shows the peer alive but an append was lost. */
  freeFirstOne(): void {
    const first = this.lastIndexes[this.head];
    if (first !== undefined) this.freeLE(first);
  }

  full(): boolean {
    return this.count >= this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  reset(): void {
    this.lastIndexes.length = 0;
    this.sizes.length = 0;
    this.head = 0;
    this.bytes = 0;
  }
}
