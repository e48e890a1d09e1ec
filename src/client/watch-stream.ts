import type { Bytes } from "./bytes.js";
import {
  ClientClosedError,
  ClientError,
  DeadlineExceededError,
  type ErrorBodyJson,
  errorFromServer,
  UnavailableError,
} from "./errors.js";
import { sleepUnlessAborted } from "./sleep.js";
import type { HttpTransport } from "./transport.js";
import {
  checkWatchIdle,
  type WatchBatch,
  type WatchFilter,
  type WatchIdle,
  watchMessages,
  watchRequestJson,
} from "./watch-wire.js";

export interface WatchOptions extends WatchFilter, WatchIdle {
  /** First revision to deliver; absent or 0: changes after the current revision. */
  readonly startRevision?: number;
  readonly signal?: AbortSignal;
  /** Budget for each (re)connection attempt round; the client's timeoutMs when absent. */
  readonly timeoutMs?: number;
}

/** Stream errors after which a new stream (on any endpoint) can carry on. */
const RESUMABLE_CODES = new Set([
  "WATCH_TOO_SLOW",
  "SERVER_CLOSING",
  "NODE_STOPPED",
  "NODE_FAILED",
  "NOT_READY",
]);

/** How one stream ended: with the error that ends the whole watch, if any; whether anything arrived. */
interface FollowOutcome {
  readonly terminal?: ClientError;
  readonly delivered: boolean;
}

/** Failures to open a stream that another try can get past. */
function isTransient(error: unknown): boolean {
  if (error instanceof UnavailableError || error instanceof DeadlineExceededError) return true;
  return error instanceof ClientError && (error.status === 503 || error.status === 504);
}

/**
 * A watch as an async iterable of one batch per revision. When a stream drops
 * or its server goes away it opens a new one (on the next endpoint) from the
 * last delivered revision + 1, so no revision is lost or repeated. Ends on
 * cancel(), the caller's signal or the client's close; throws CompactedError
 * when the revision to resume from was compacted, and any error that a retry
 * cannot fix.
 */
export class WatchStream implements AsyncIterableIterator<WatchBatch>, AsyncDisposable {
  private readonly controller = new AbortController();
  private readonly generator: AsyncGenerator<WatchBatch, undefined>;
  /** The next revision to deliver; 0 until the first stream said where "now" is. */
  private nextRevision: number;
  private readonly onCallerAbort = () => this.cancel();
  /** The first batch, asked for at construction so the stream opens at once. */
  private first: Promise<IteratorResult<WatchBatch, undefined>> | undefined;
  private markReady: (revision: number) => void = () => {};
  private failReady: (error: unknown) => void = () => {};
  /**
   * Resolves once the server registered the watch, with the revision it
   * starts after: changes from the next revision on will be delivered.
   */
  readonly ready: Promise<number>;

  constructor(
    private readonly transport: HttpTransport,
    private readonly key: Bytes,
    private readonly options: WatchOptions & { onClose?: () => void },
  ) {
    const start = options.startRevision ?? 0;
    if (!Number.isSafeInteger(start) || start < 0) {
      throw new ClientError("INVALID_ARGUMENT", `startRevision must be >= 0, got ${start}`);
    }
    this.nextRevision = start;
    // Built now so a bad key or filter throws at the call, not at the first next().
    watchRequestJson(key, options, start);
    checkWatchIdle(options);
    this.ready = new Promise<number>((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    // Nobody has to await these; their outcome also reaches next().
    this.ready.catch(() => {});
    this.generator = this.run();
    if (options.signal?.aborted) this.cancel();
    else options.signal?.addEventListener("abort", this.onCallerAbort, { once: true });
    this.first = this.generator.next();
    this.first.catch(() => {});
  }

  /** The revision the next batch will be at least; 0 before the first stream opened. */
  get resumeRevision(): number {
    return this.nextRevision;
  }

  next(): Promise<IteratorResult<WatchBatch, undefined>> {
    const first = this.first;
    this.first = undefined;
    return first ?? this.generator.next();
  }

  async return(): Promise<IteratorResult<WatchBatch, undefined>> {
    this.cancel();
    await this.first?.catch(() => {});
    this.first = undefined;
    return this.generator.return(undefined);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Stops the watch; a pending next() resolves done. */
  cancel(): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort();
    this.options.signal?.removeEventListener("abort", this.onCallerAbort);
    this.options.onClose?.();
  }

  close(): void {
    this.cancel();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }

  private get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  private async *run(): AsyncGenerator<WatchBatch, undefined> {
    const signal = this.controller.signal;
    let avoid: string | undefined;
    let failures = 0;
    try {
      while (!this.stopped) {
        if (
          failures > 0 &&
          !(await sleepUnlessAborted(this.transport.retryDelayMs(failures - 1), signal))
        ) {
          return undefined;
        }
        let opened: Awaited<ReturnType<HttpTransport["open"]>>;
        try {
          opened = await this.transport.open(
            {
              path: "/v3/watch",
              body: watchRequestJson(this.key, this.options, this.nextRevision),
              kind: "read",
              ...(avoid !== undefined && { avoid }),
            },
            {
              signal,
              ...(this.options.timeoutMs !== undefined && { timeoutMs: this.options.timeoutMs }),
            },
          );
        } catch (error) {
          if (this.stopped) return undefined;
          if (!isTransient(error)) throw error;
          failures++;
          avoid = undefined;
          continue;
        }
        let outcome: FollowOutcome;
        try {
          outcome = yield* this.follow(opened.body);
        } finally {
          opened.close();
        }
        if (outcome.terminal !== undefined) throw outcome.terminal;
        failures = outcome.delivered ? 1 : failures + 1;
        avoid = opened.endpoint;
      }
      return undefined;
    } catch (error) {
      this.failReady(error);
      throw error;
    } finally {
      this.failReady(new ClientClosedError("watch"));
      this.cancel();
    }
  }

  /**
   * Relays one stream until it ends. Returns the error that ends the whole
   * watch, if any, and whether anything arrived (to reset the backoff).
   */
  private async *follow(
    body: AsyncIterable<Uint8Array>,
  ): AsyncGenerator<WatchBatch, FollowOutcome> {
    let delivered = false;
    const messages = watchMessages(body, {
      errorOf: (json) => errorFromServer(json as ErrorBodyJson, undefined),
      resumable: RESUMABLE_CODES,
      stopped: () => this.stopped,
      idleTimeoutMs: this.options.idleTimeoutMs,
    });
    try {
      for (;;) {
        const next = await messages.next();
        if (next.done)
          return next.value === undefined ? { delivered } : { terminal: next.value, delivered };
        const m = next.value;
        switch (m.kind) {
          case "created":
            if (this.nextRevision === 0) this.nextRevision = m.revision + 1;
            this.markReady(this.nextRevision - 1);
            break;
          case "events":
            delivered = true;
            // A resumed stream starts at nextRevision; anything older was already yielded.
            if (m.batch.revision < this.nextRevision) break;
            this.nextRevision = m.batch.revision + 1;
            yield m.batch;
            break;
          case "progress":
            delivered = true;
            this.nextRevision = Math.max(this.nextRevision, m.revision + 1);
            if (this.options.progressNotify === true) {
              yield { revision: m.revision, events: [], progress: true };
            }
            break;
        }
      }
    } finally {
      await messages.return(undefined);
    }
  }
}
