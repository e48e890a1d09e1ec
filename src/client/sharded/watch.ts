/**
 * A watch over one shard or many: one server-sent-event stream per shard
 * (POST /v3/shard/watch), merged into one async iterable. Each batch names
 * its shard and carries that shard's revision. Within a shard batches come
 * in revision order, each revision once; across shards there is no order
 * and no common revision.
 *
 * Each shard's stream resumes on its own: when it ends (its replica closed,
 * its node went away, the server cut a slow reader) the watch opens a new
 * one on a replica of the shard, from the last revision it delivered + 1,
 * so nothing is lost or repeated across moves and node failures.
 */
import type { Bytes } from "../bytes.js";
import {
  ClientClosedError,
  ClientError,
  DeadlineExceededError,
  UnavailableError,
} from "../errors.js";
import type { Json } from "../json-read.js";
import { sleepUnlessAborted } from "../sleep.js";
import {
  checkWatchIdle,
  type WatchBatch,
  type WatchFilter,
  type WatchIdle,
  watchMessages,
  watchRequestJson,
} from "../watch-wire.js";
import { type ShardErrorBodyJson, shardErrorFromServer } from "./errors.js";
import { HandOff } from "./watch-merge.js";

export interface ShardWatchOptions extends WatchFilter, WatchIdle {
  /**
   * The first revision to deliver: one number for every watched shard, or
   * per shard (a shard left out starts at its current revision). Absent or
   * 0: changes after each shard's current revision. To watch what a
   * `range` read, pass each of its `revisions` + 1; to carry on a watch,
   * pass its `resumeRevisions`.
   */
  readonly startRevision?: number | ReadonlyMap<number, number>;
  readonly signal?: AbortSignal;
  /** Budget of each attempt to open a shard's stream; the client's requestTimeoutMs when absent. */
  readonly timeoutMs?: number;
}

/** What one revision of one shard changed in the watched range, or a progress notice of that shard. */
export interface ShardWatchBatch extends WatchBatch {
  /** The shard (Raft group) the events happened in; `revision` is that shard's. */
  readonly shard: number;
}

/** One shard's open stream. */
export interface OpenShardStream {
  readonly endpoint: string;
  readonly body: AsyncIterable<Uint8Array>;
  close(): void;
}

/** What the watch needs of the client: where the shards are, and streams to them. */
export interface ShardWatchPort {
  /** The shards the watch covers: the key's own, or every shard for a range. */
  shards(signal: AbortSignal): Promise<readonly number[]>;
  /** The shards there are (1..count), to check a per-shard start. */
  shardCount(): number;
  /** Opens a stream on a replica of `shard`, another than `avoid` if there is one. */
  open(
    shard: number,
    body: Json,
    signal: AbortSignal,
    avoid: string | undefined,
  ): Promise<OpenShardStream>;
  /** The stream from `endpoint` ended: the shard may have moved. */
  lost(shard: number, endpoint: string): void;
  /** The jittered wait before retry number `retry` (0-based). */
  retryDelayMs(retry: number): number;
}

/** Stream errors after which a stream on another replica carries on. */
const RESUMABLE_CODES = new Set([
  "REPLICA_CLOSED",
  "NO_LEADER",
  "WATCH_TOO_SLOW",
  "SERVER_CLOSING",
  "NODE_STOPPED",
  "NODE_FAILED",
  "NOT_READY",
]);

/** Failures to open a stream that another try, later or elsewhere, can get past. */
function isTransient(error: unknown): boolean {
  if (error instanceof UnavailableError || error instanceof DeadlineExceededError) return true;
  // 421: the shard is elsewhere, and no replica was found before the attempt's deadline.
  return (
    error instanceof ClientError &&
    (error.status === 421 || error.status === 503 || error.status === 504)
  );
}

interface RelayOutcome {
  /** The error that ends the whole watch. */
  readonly terminal?: ClientError;
  /** Something arrived (resets the backoff). */
  readonly delivered: boolean;
}

export class ShardWatchStream implements AsyncIterableIterator<ShardWatchBatch>, AsyncDisposable {
  private readonly controller = new AbortController();
  private readonly handOff = new HandOff<ShardWatchBatch>();
  /** Shard → the next revision to deliver (0: its current one, until its first stream says). */
  private readonly nextRevisions = new Map<number, number>();
  private readonly serving = new Map<number, string>();
  /** Every shard's open stream, closed at once when the watch stops. */
  private readonly openStreams = new Set<OpenShardStream>();
  private readonly onCallerAbort = () => this.cancel();
  private readonly started = new Map<number, number>();
  private shardsToStart: number | undefined;
  private markReady: (revisions: ReadonlyMap<number, number>) => void = () => {};
  private failReady: (error: unknown) => void = () => {};
  /**
   * Resolves once every shard's stream was registered, with the revision
   * each shard's watch starts after: later changes will be delivered.
   */
  readonly ready: Promise<ReadonlyMap<number, number>>;

  constructor(
    private readonly port: ShardWatchPort,
    private readonly key: Bytes,
    private readonly options: ShardWatchOptions & { onClose?: () => void },
  ) {
    const start = options.startRevision ?? 0;
    const starts = typeof start === "number" ? [start] : [...start.values()];
    for (const s of starts) {
      if (!Number.isSafeInteger(s) || s < 0) {
        throw new ClientError("INVALID_ARGUMENT", `startRevision must be >= 0, got ${s}`);
      }
    }
    // Built now so a bad key or filter throws at the call, not at the first next().
    watchRequestJson(key, options, 0);
    checkWatchIdle(options);
    this.ready = new Promise((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    this.ready.catch(() => {});
    if (options.signal?.aborted) {
      // Over before it began: nothing opened, nobody to tell (onClose is for a watch that ran).
      this.controller.abort();
      this.failReady(new ClientClosedError("watch"));
      this.handOff.close();
      return;
    }
    options.signal?.addEventListener("abort", this.onCallerAbort, { once: true });
    void this.run();
  }

  /**
   * Shard → the next revision the watch delivers there (the last delivered
   * + 1): pass it as `startRevision` to carry on later. Shards whose
   * stream has not started yet are missing.
   */
  get resumeRevisions(): ReadonlyMap<number, number> {
    return new Map([...this.nextRevisions].filter(([, next]) => next > 0));
  }

  /** Shard → the endpoint its stream is open on right now (for operators and tests). */
  get servedBy(): ReadonlyMap<number, string> {
    return new Map(this.serving);
  }

  next(): Promise<IteratorResult<ShardWatchBatch, undefined>> {
    return this.handOff.take();
  }

  async return(): Promise<IteratorResult<ShardWatchBatch, undefined>> {
    this.cancel();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Stops every shard's stream; a pending next() resolves done, batches not yet taken are dropped. */
  cancel(): void {
    this.shutdown();
    this.handOff.close();
  }

  close(): void {
    this.cancel();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.cancel();
  }

  private get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  private shutdown(): void {
    if (this.stopped) return;
    this.controller.abort();
    for (const stream of this.openStreams) stream.close();
    this.openStreams.clear();
    this.options.signal?.removeEventListener("abort", this.onCallerAbort);
    this.failReady(new ClientClosedError("watch"));
    this.options.onClose?.();
  }

  private async run(): Promise<void> {
    try {
      const shards = await this.resolveShards();
      if (shards === undefined) return;
      const start = this.options.startRevision ?? 0;
      if (typeof start !== "number") {
        const count = this.port.shardCount();
        for (const shard of start.keys()) {
          if (!Number.isSafeInteger(shard) || shard < 1 || shard > count) {
            throw new ClientError(
              "INVALID_ARGUMENT",
              `startRevision names shard ${shard}; shards are 1..${count}`,
            );
          }
        }
      }
      for (const shard of shards) {
        this.nextRevisions.set(shard, typeof start === "number" ? start : (start.get(shard) ?? 0));
      }
      this.shardsToStart = shards.length;
      await Promise.all(shards.map((shard) => this.follow(shard)));
    } catch (error) {
      if (this.stopped) return;
      // What other shards already handed over is still taken before this error.
      this.failReady(error);
      this.handOff.fail(error);
      this.shutdown();
    }
  }

  /** The shards to watch, asked again after a transient failure; undefined once stopped. */
  private async resolveShards(): Promise<readonly number[] | undefined> {
    for (let failures = 0; ; failures++) {
      if (
        failures > 0 &&
        !(await sleepUnlessAborted(this.port.retryDelayMs(failures - 1), this.controller.signal))
      ) {
        return undefined;
      }
      try {
        return await this.port.shards(this.controller.signal);
      } catch (error) {
        if (this.stopped) return undefined;
        if (!isTransient(error)) throw error;
      }
    }
  }

  /** One shard's streams, one after the other, until the watch stops or fails. */
  private async follow(shard: number): Promise<void> {
    const signal = this.controller.signal;
    let failures = 0;
    let avoid: string | undefined;
    while (!this.stopped) {
      if (
        failures > 0 &&
        !(await sleepUnlessAborted(this.port.retryDelayMs(failures - 1), signal))
      ) {
        return;
      }
      const from = this.nextRevisions.get(shard) ?? 0;
      let opened: OpenShardStream;
      try {
        opened = await this.port.open(
          shard,
          watchRequestJson(this.key, this.options, from),
          signal,
          avoid,
        );
      } catch (error) {
        if (this.stopped) return;
        if (!isTransient(error)) throw error;
        failures++;
        avoid = undefined;
        continue;
      }
      if (this.stopped) {
        opened.close();
        return;
      }
      this.serving.set(shard, opened.endpoint);
      this.openStreams.add(opened);
      let outcome: RelayOutcome;
      try {
        outcome = await this.relay(shard, opened.body);
      } finally {
        this.openStreams.delete(opened);
        opened.close();
        this.serving.delete(shard);
      }
      if (outcome.terminal !== undefined) throw outcome.terminal;
      if (this.stopped) return;
      failures = outcome.delivered ? 1 : failures + 1;
      avoid = opened.endpoint;
      this.port.lost(shard, opened.endpoint);
    }
  }

  /** Hands one stream's batches over until it ends. */
  private async relay(shard: number, body: AsyncIterable<Uint8Array>): Promise<RelayOutcome> {
    let delivered = false;
    const messages = watchMessages(body, {
      errorOf: (json) => shardErrorFromServer(json as ShardErrorBodyJson, undefined),
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
        const from = this.nextRevisions.get(shard) ?? 0;
        switch (m.kind) {
          case "created":
            if (from === 0) this.nextRevisions.set(shard, m.revision + 1);
            this.shardStarted(shard);
            break;
          case "events":
            delivered = true;
            // A resumed stream starts at the next revision; anything older was delivered.
            if (m.batch.revision < from) break;
            if (!(await this.handOff.offer({ ...m.batch, shard }))) return { delivered };
            this.nextRevisions.set(shard, m.batch.revision + 1);
            break;
          case "progress": {
            delivered = true;
            if (this.options.progressNotify === true) {
              const notice: ShardWatchBatch = {
                shard,
                revision: m.revision,
                events: [],
                progress: true,
              };
              if (!(await this.handOff.offer(notice))) return { delivered };
            }
            this.nextRevisions.set(
              shard,
              Math.max(this.nextRevisions.get(shard) ?? 0, m.revision + 1),
            );
            break;
          }
        }
      }
    } finally {
      await messages.return(undefined);
    }
  }

  private shardStarted(shard: number): void {
    if (this.shardsToStart === undefined || this.started.has(shard)) return;
    this.started.set(shard, (this.nextRevisions.get(shard) ?? 1) - 1);
    if (this.started.size === this.shardsToStart) {
      this.markReady(new Map([...this.started].sort(([a], [b]) => a - b)));
    }
  }
}
