import type { WatchFrame } from "./watch-frames.js";

/**
 * The frames (or gRPC messages) one watch stream has yet to hand to its socket, first in first
 * out. A slow reader of small events can have tens of thousands queued, so
 * taking the head is O(1) (Array.shift would move the whole rest each time).
 */
export class FrameQueue<F extends { readonly byteLength: number } = WatchFrame> {
  private items: (F | undefined)[] = [];
  private head = 0;
  private bytes = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  get byteLength(): number {
    return this.bytes;
  }

  peek(): F | undefined {
    return this.items[this.head];
  }

  push(frame: F): void {
    this.items.push(frame);
    this.bytes += frame.byteLength;
  }

  shift(): F | undefined {
    const frame = this.items[this.head];
    if (frame === undefined) return undefined;
    // Let the frame go as soon as it leaves, and drop the spent prefix now and then.
    this.items[this.head++] = undefined;
    this.bytes -= frame.byteLength;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return frame;
  }

  /** Empties the queue, returning what it held in order. */
  takeAll(): F[] {
    const all = this.items.slice(this.head) as F[];
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    return all;
  }
}
