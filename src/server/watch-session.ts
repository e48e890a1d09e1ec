import type { ServerResponse } from "node:http";
import { ConclaveError } from "../errors.js";
import {
  CompactedError,
  type KvStore,
  type WatchOptions,
  type WatchResponse,
} from "../kv/index.js";
import type { ClosableStream } from "./watch-registry.js";
import { header, keyValueJson } from "./wire.js";

export interface WatchSessionOptions {
  readonly maxBufferBytes: number;
  readonly keepAliveMs: number;
  readonly progressIntervalMs: number;
  readonly progressNotify: boolean;
  /** Called once when the stream ends, however it ends. */
  readonly onEnd: () => void;
}

/** How long a stream that was told to end may take to flush before its socket is destroyed. */
const END_GRACE_MS = 2000;

/**
 * One watch as a server-sent-event stream: `created`, then one `events`
 * message per revision, `progress` notices, `: ping` comments, and an
 * `error` message before any end the client did not ask for. A reader too
 * slow to keep up with `maxBufferBytes` queued is cut off with
 * WATCH_TOO_SLOW rather than making the server buffer without bound.
 */
export class WatchSession implements ClosableStream {
  private ended = false;
  private cancelWatcher: (() => void) | undefined;
  private readonly timers: ReturnType<typeof setInterval>[] = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly store: KvStore,
    private readonly options: WatchSessionOptions,
  ) {
    res.on("close", () => this.finish());
  }

  /** Sends the headers and `created`, then registers the watcher (which replays history). */
  start(watch: WatchOptions): void {
    this.res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      // One stream per connection: when it ends the socket goes too, and no idle keep-alive lingers.
      connection: "close",
    });
    this.send("created", JSON.stringify({ header: header(this.store.revision) }));
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
    this.every(this.options.keepAliveMs, () => {
      // A stream with bytes still queued is not idle; the ping would only add to the queue.
      if (this.res.writableLength === 0) this.res.write(": ping\n\n");
    });
    if (this.options.progressNotify) {
      this.every(this.options.progressIntervalMs, () => this.sendProgress(this.store.revision));
    }
  }

  close(code: string, message: string): void {
    this.endWith({ code, message });
  }

  private deliver(r: WatchResponse): void {
    if (r.progressNotify) {
      if (this.options.progressNotify) this.sendProgress(r.revision);
      return;
    }
    const events = r.events.map((e) => ({
      type: e.type === "put" ? "PUT" : "DELETE",
      kv: keyValueJson(e.kv),
      ...(e.prevKv !== undefined && { prev_kv: keyValueJson(e.prevKv) }),
    }));
    this.send("events", JSON.stringify({ header: header(r.revision), events }), r.revision);
  }

  private sendProgress(revision: number): void {
    this.send("progress", JSON.stringify({ header: header(revision) }));
  }

  private send(event: string, data: string, id?: number): void {
    if (this.ended) return;
    const message = `event: ${event}\n${id === undefined ? "" : `id: ${id}\n`}data: ${data}\n\n`;
    const queued = this.res.writableLength;
    // One message larger than the cap still goes out on an empty queue.
    if (queued > 0 && queued + Buffer.byteLength(message) > this.options.maxBufferBytes) {
      this.endWith({
        code: "WATCH_TOO_SLOW",
        message: `the client read too slowly: ${queued} bytes were still queued; resume from the last revision received + 1`,
      });
      return;
    }
    this.res.write(message);
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

  private endWith(body: { code: string; message: string; compact_revision?: string }): void {
    if (this.ended) return;
    // Written past the cap on purpose: the client should learn why its stream ends.
    this.res.write(`event: error\ndata: ${JSON.stringify(body)}\n\n`);
    this.finish();
    this.res.end();
    const timer = setTimeout(() => this.res.destroy(), END_GRACE_MS);
    timer.unref();
    this.res.once("close", () => clearTimeout(timer));
  }

  /** Stops everything that feeds the stream; runs once. */
  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.cancelWatcher?.();
    for (const t of this.timers) clearInterval(t);
    this.options.onEnd();
  }

  private every(ms: number, f: () => void): void {
    const t = setInterval(f, ms);
    t.unref();
    this.timers.push(t);
  }
}
