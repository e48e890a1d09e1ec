/** An encoded frame: its bytes, or parts written one after another (one writev). */
export type QueuedFrame = Uint8Array | readonly Uint8Array[];

export function frameByteLength(frame: QueuedFrame): number {
  if (frame instanceof Uint8Array) return frame.byteLength;
  let n = 0;
  for (const p of frame) n += p.byteLength;
  return n;
}

/**
 * A FIFO of encoded frames bounded both in count and in bytes. `push` refuses
 * (returns false) rather than grow: behind a slow or dead peer the node's
 * memory stays bounded and Raft's own retries make up for the loss.
 */
export class SendQueue {
  private items: { frame: QueuedFrame; bytes: number }[] = [];
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

  push(frame: QueuedFrame): boolean {
    const bytes = frameByteLength(frame);
    if (this.length >= this.maxMessages || this.bytes + bytes > this.maxBytes) return false;
    this.items.push({ frame, bytes });
    this.bytes += bytes;
    return true;
  }

  shift(): QueuedFrame | undefined {
    if (this.head >= this.items.length) return undefined;
    const { frame, bytes } = this.items[this.head]!;
    this.head++;
    this.bytes -= bytes;
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
