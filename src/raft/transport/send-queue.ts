/**
 * A FIFO of encoded frames bounded both in count and in bytes. `push` refuses
 * (returns false) rather than grow: behind a slow or dead peer the node's
 * memory stays bounded and Raft's own retries make up for the loss.
 */
export class SendQueue {
  private items: Uint8Array[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  get byteLength(): number {
    return this.bytes;
  }

  push(frame: Uint8Array): boolean {
    if (this.length >= this.maxMessages || this.bytes + frame.byteLength > this.maxBytes)
      return false;
    this.items.push(frame);
    this.bytes += frame.byteLength;
    return true;
  }

  shift(): Uint8Array | undefined {
    if (this.head >= this.items.length) return undefined;
    const frame = this.items[this.head] as Uint8Array;
    this.head++;
    this.bytes -= frame.byteLength;
    // Compact now and then so a long-lived queue does not keep a dead prefix.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    } else if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return frame;
  }

  /** Empties the queue; returns how many frames were discarded. */
  clear(): number {
    const n = this.length;
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    return n;
  }
}
