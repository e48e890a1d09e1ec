import type { ServerResponse } from "node:http";
import { ConclaveError } from "../errors.js";
import {
  CompactedError,
  type KvStore,
  type WatchOptions,
  type WatchResponse,
} from "../kv/index.js";
import { FrameQueue } from "./watch-frame-queue.js";
import type { WatchErrorJson, WatchFrame, WatchFrames } from "./watch-frames.js";
import type { BudgetedStream, WatchMemory } from "./watch-memory.js";
import type { PacedStream, WatchWritePacer } from "./watch-pacer.js";
import type { ClosableStream } from "./watch-registry.js";

export interface WatchSessionOptions {
  /** Bytes this stream may hold (queued + in its socket) before it ends with WATCH_TOO_SLOW. */
  readonly maxBufferBytes: number;
  readonly keepAliveMs: number;
  readonly progressIntervalMs: number;
  readonly progressNotify: boolean;
  /** How long an ended stream may take to flush its last bytes before its socket is destroyed. */
  readonly endGraceMs: number;
  readonly frames: WatchFrames;
  readonly memory: WatchMemory;
  readonly pacer: WatchWritePacer;
  /** Called once when the stream ends, however it ends. */
  readonly onEnd: () => void;
  /** Called when the stream is cut for reading too slowly (to log it). */
  readonly onTooSlow: (reason: "stream" | "total", heldBytes: number, maxBytes: number) => void;
}

/**
 * Room kept free under the per-stream budget for the error frame a cut stream
 * ends with; every error body this module writes is far shorter.
 */
export const ERROR_FRAME_RESERVE_BYTES = 1024;

/**
 * One watch as a server-sent-event stream: `created`, then one `events`
 * message per revision, `progress` notices, `: ping` comments, and an
 * `error` message before any end the client did not ask for.
 *
 * Frames wait in this stream's own queue and go to the socket only while it
 * drains, so what a slow reader makes the server hold can be measured and,
 * when the stream is cut, dropped: a reader over its budget (or among the
 * furthest behind when the member's total is over) loses its queued frames,
 * gets WATCH_TOO_SLOW right behind what its socket already holds, and has
 * `endGraceMs` to read it before the socket is destroyed.
 */
export class WatchSession implements ClosableStream, BudgetedStream, PacedStream {
  private ended = false;
  /** Set once ended: what is still in the socket only waits to leave. */
  private draining = false;
  private cancelWatcher: (() => void) | undefined;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private readonly queue = new FrameQueue();
  /** Frames handed to the socket whose write has not completed, oldest first. */
  private readonly sent: WatchFrame[] = [];
  private waitingForDrain = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly store: KvStore,
    private readonly options: WatchSessionOptions,
  ) {
    res.on("close", () => this.closed());
    res.on("drain", () => {
      this.waitingForDrain = false;
      this.options.pacer.schedule(this);
    });
  }

  /** Sends the headers and `created`, then registers the watcher (which replays history). */
  start(watch: WatchOptions): void {
    this.res.writeHead(200, {
      "content-type": this.options.frames.contentType,
      "cache-control": "no-cache",
      // One stream per connection: when it ends the socket goes too, and no idle keep-alive lingers.
      connection: "close",
    });
    this.options.memory.add(this);
    this.enqueue(this.options.frames.created(this.store.revision));
    try {
      const watcher = this.store.watch(
        watch,
        (r) => this.deliver(r),
        (error) => this.fail(error),
      );
      this.cancelWatcher = () => watcher.cancel();
    } catch (error) {
      this.fail(error);
      return;
    }
    if (this.ended) {
      this.cancelWatcher?.();
      return;
    }
    const ping = this.options.frames.ping;
    if (ping !== undefined) {
      this.every(this.options.keepAliveMs, () => {
        // A stream with bytes still queued is not idle; the ping would only add to the queue.
        if (this.queue.length === 0 && this.res.writableLength === 0) this.res.write(ping);
      });
    }
    if (this.options.progressNotify) {
      this.every(this.options.progressIntervalMs, () => {
        this.enqueue(this.options.frames.progress(this.store.revision));
      });
    }
  }

  close(code: string, message: string): void {
    this.endWith({ code, message });
  }

  /** Bytes this stream makes the server hold: its queue and its socket's writable buffer. */
  get heldBytes(): number {
    return this.queue.byteLength + this.res.writableLength;
  }

  get oldestHeldSeq(): number | undefined {
    if (this.ended) return undefined;
    return (this.sent[0] ?? this.queue.peek())?.seq;
  }

  cutForTotalBudget(heldBytes: number, maxBytes: number): void {
    if (this.ended) return;
    this.options.onTooSlow("total", heldBytes, maxBytes);
    this.endWith(
      {
        code: "WATCH_TOO_SLOW",
        message: `the server's watch streams hold ${heldBytes} bytes, over its ${maxBytes}-byte budget, and this stream was among the furthest behind; resume from the last revision received + 1`,
      },
      "drop",
    );
  }

  private deliver(r: WatchResponse): void {
    if (this.ended) return;
    if (r.progressNotify) {
      if (this.options.progressNotify) this.enqueue(this.options.frames.progress(r.revision));
      return;
    }
    this.enqueue(this.options.frames.events(r));
  }

  private enqueue(frame: WatchFrame): void {
    if (this.ended) return;
    const held = this.heldBytes;
    const max = this.options.maxBufferBytes;
    // One frame larger than the budget still goes out on an empty stream.
    if (held > 0 && held + frame.byteLength + ERROR_FRAME_RESERVE_BYTES > max) {
      this.options.onTooSlow("stream", held, max);
      this.endWith(
        {
          code: "WATCH_TOO_SLOW",
          message: `the client read too slowly: ${held} bytes were still queued, the limit is ${max}; resume from the last revision received + 1`,
        },
        "drop",
      );
      return;
    }
    this.options.memory.hold(frame);
    this.queue.push(frame);
    if (!this.waitingForDrain) this.options.pacer.schedule(this);
    this.options.memory.enforce();
  }

  /** Moves queued frames to the socket while it takes them without buffering past its mark. */
  pump(): number {
    let written = 0;
    while (!this.ended && !this.waitingForDrain && this.queue.length > 0) {
      const frame = this.queue.shift()!;
      this.sent.push(frame);
      written += frame.byteLength;
      const accepted = this.res.write(frame.bytes, () => this.settled(frame));
      if (!accepted) this.waitingForDrain = true;
    }
    return written;
  }

  /** The socket is done with `frame` (written to the kernel); a frame is settled at most once. */
  private settled(frame: WatchFrame): void {
    const i = this.sent.indexOf(frame);
    if (i < 0) return;
    this.sent.splice(i, 1);
    this.options.memory.release(frame, this.draining);
  }

  private fail(error: unknown): void {
    if (error instanceof CompactedError) {
      this.endWith({
        code: error.code,
        message: error.message,
        compact_revision: String(error.compactRevision),
      });
    } else if (error instanceof ConclaveError) {
      this.endWith({ code: error.code, message: error.message });
    } else {
      this.endWith({ code: "INTERNAL", message: "the watch failed" });
    }
  }

  /**
   * Writes the error right behind what the socket already holds (and, unless
   * `queued` is "drop", behind what is still queued), ends the response, and
   * destroys the socket if the client has not read it all within the grace.
   * A stream cut for being slow drops its queue: holding it is what the cut
   * is for, and the client resumes from the last revision it received.
   */
  private endWith(body: WatchErrorJson, queued: "drop" | "send" = "send"): void {
    if (this.ended) return;
    const writable = !this.res.destroyed && !this.res.writableEnded;
    // What the socket takes now goes before the cut: a replay larger than the
    // budget, queued in one go, still delivers something, so a client that
    // resumes from what it received makes progress rather than looping.
    if (writable) this.pump();
    if (queued === "send" && writable) {
      // Ending anyway: the socket takes the rest past its mark (within the stream's budget).
      while (this.queue.length > 0) {
        this.waitingForDrain = false;
        this.pump();
      }
    }
    this.stop();
    for (const frame of this.sent) this.options.memory.markDraining(frame);
    this.draining = true;
    if (!writable) return;
    this.res.end(this.options.frames.error(body).bytes);
    const timer = setTimeout(() => this.res.destroy(), this.options.endGraceMs);
    timer.unref();
    this.res.once("close", () => clearTimeout(timer));
  }

  /** The socket is gone: whatever it held is freed with it. */
  private closed(): void {
    this.stop();
    for (const frame of this.sent.splice(0)) this.options.memory.release(frame, this.draining);
  }

  /** Stops everything that feeds the stream and drops its queue; runs once. */
  private stop(): void {
    if (this.ended) return;
    this.ended = true;
    this.cancelWatcher?.();
    for (const t of this.timers) clearInterval(t);
    for (const frame of this.queue.takeAll()) this.options.memory.release(frame, false);
    this.options.pacer.forget(this);
    this.options.memory.remove(this);
    this.options.onEnd();
  }

  private every(ms: number, f: () => void): void {
    const t = setInterval(f, ms);
    t.unref();
    this.timers.push(t);
  }
}
