import type { ServerDuplexStream } from "@grpc/grpc-js";
import { FrameQueue } from "../watch-frame-queue.js";
import type { BudgetedStream, HeldFrame } from "../watch-memory.js";
import type { WatchParts } from "../watch-routes.js";
import type { WatchRequestMessage, WatchResponseMessage } from "./watch-messages.js";

/** One message waiting to leave, as the member's watch memory budget counts it. */
interface OutMessage extends HeldFrame {
  readonly message: WatchResponseMessage;
}

export interface WatchOutboxOptions {
  readonly parts: WatchParts;
  /** Who the call is, for the log line of a cut. */
  readonly client: () => string;
  /** The outbox cut the call (its reader was too slow): end it with `details`. */
  readonly onCut: (details: string) => void;
}

/**
 * The responses of one Watch call on their way out. They wait in the
 * outbox's own queue and go to grpc-js while it takes them without
 * buffering past its mark (its write answers false until 'drain'); what the
 * queue and grpc-js hold counts against the per-stream budget and the
 * member's watch memory (shared with the HTTP watch streams). Over either,
 * the call is cut rather than left to buffer without bound.
 */
export class WatchOutbox implements BudgetedStream {
  private readonly queue = new FrameQueue<OutMessage>();
  /** Messages handed to grpc-js whose write has not completed, oldest first. */
  private readonly inFlight = new Set<OutMessage>();
  private inFlightBytes = 0;
  private waitingForDrain = false;
  private pumpScheduled = false;
  private stopped = false;
  /** Set once stopped: what grpc-js still holds only waits to leave. */
  private draining = false;

  constructor(
    private readonly call: ServerDuplexStream<WatchRequestMessage, WatchResponseMessage>,
    private readonly options: WatchOutboxOptions,
  ) {
    options.parts.memory.add(this);
    call.on("drain", () => {
      this.waitingForDrain = false;
      this.pump();
    });
  }

  get oldestHeldSeq(): number | undefined {
    if (this.stopped) return undefined;
    for (const m of this.inFlight) return m.seq;
    return this.queue.peek()?.seq;
  }

  cutForTotalBudget(heldBytes: number, maxBytes: number): void {
    if (this.stopped) return;
    this.options.parts.tooSlow("total", this.options.client(), heldBytes, maxBytes);
    this.options.onCut(
      `etcdserver: the server's watch streams hold ${heldBytes} bytes, over its ${maxBytes}-byte budget, and this stream was among the furthest behind`,
    );
  }

  /** Queues `message`; `bytes` bounds its encoded size. */
  send(message: WatchResponseMessage, bytes: number): void {
    if (this.stopped) return;
    const { parts } = this.options;
    const held = this.queue.byteLength + this.inFlightBytes;
    const max = parts.limits.maxWatchBufferBytes;
    // One message larger than the budget still goes out on an empty stream.
    if (held > 0 && held + bytes > max) {
      parts.tooSlow("stream", this.options.client(), held, max);
      this.options.onCut(
        `etcdserver: the client read too slowly: ${held} bytes were still queued, the limit is ${max}`,
      );
      return;
    }
    const out: OutMessage = {
      // proto3 leaves a zero out of the wire; etcd's first watch id (0) is sent as nothing.
      message: message.watch_id === 0 ? { ...message, watch_id: undefined } : message,
      byteLength: bytes,
      seq: parts.frames.sequence(),
      liveHolders: 0,
      drainingHolders: 0,
    };
    parts.memory.hold(out);
    this.queue.push(out);
    this.schedulePump();
    parts.memory.enforce();
  }

  /**
   * Stops for good: grpc-js gets what it takes right now (so a client cut
   * in the middle of a large replay still makes progress before it
   * resumes), the rest of the queue is dropped, and what grpc-js holds is
   * counted as draining until its writes complete or the call goes.
   */
  stop(): void {
    if (this.stopped) return;
    this.pump();
    this.stopped = true;
    const { memory } = this.options.parts;
    for (const out of this.queue.takeAll()) memory.release(out, false);
    for (const out of this.inFlight) memory.markDraining(out);
    this.draining = true;
    memory.remove(this);
  }

  /** The call is gone: whatever grpc-js held is freed with it. */
  close(): void {
    this.stop();
    for (const out of [...this.inFlight]) this.settled(out);
  }

  /** Serializing happens in grpc-js's write: out of the store's apply, once per turn. */
  private schedulePump(): void {
    if (this.pumpScheduled || this.waitingForDrain) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.stopped && !this.waitingForDrain && this.queue.length > 0) {
      const out = this.queue.shift()!;
      this.inFlight.add(out);
      this.inFlightBytes += out.byteLength;
      const accepted = this.call.write(out.message, () => this.settled(out));
      if (!accepted) this.waitingForDrain = true;
    }
  }

  /** grpc-js is done with `out`; a message is settled at most once. */
  private settled(out: OutMessage): void {
    if (!this.inFlight.delete(out)) return;
    this.inFlightBytes -= out.byteLength;
    this.options.parts.memory.release(out, this.draining);
  }
}
