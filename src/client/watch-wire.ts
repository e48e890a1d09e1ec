import { type Bytes, toBytes } from "./bytes.js";
import { ClientError } from "./errors.js";
import { asArray, asObject, headerRevision, type Json } from "./json-read.js";
import { KeyValue } from "./key-value.js";
import { keyRangeJson } from "./kv-wire.js";
import { parseSse } from "./sse.js";

export interface WatchEvent {
  readonly type: "put" | "delete";
  /** For a delete: the key and the deleting revision as modRevision, other fields zero. */
  readonly kv: KeyValue;
  /** The key's state before this event, when the watch asked for `prevKv`. */
  readonly prevKv?: KeyValue;
}

/** Everything one revision changed in the watched range, or a progress notice. */
export interface WatchBatch {
  readonly revision: number;
  readonly events: WatchEvent[];
  /** A progress notice: every change up to `revision` has been delivered; `events` is empty. */
  readonly progress?: true;
}

export interface WatchFilter {
  readonly rangeEnd?: Bytes;
  readonly prefix?: boolean;
  readonly prevKv?: boolean;
  /** Leave out puts. */
  readonly noPut?: boolean;
  /** Leave out deletes. */
  readonly noDelete?: boolean;
  /** Ask the server for periodic progress notices (yielded as `progress: true` batches). */
  readonly progressNotify?: boolean;
}

/** How long a watch stream may stay silent (no event, no ping) before it counts as broken. */
export interface WatchIdle {
  /**
   * A stream that delivers nothing, not even the server's keep-alive ping
   * (every 5 s by default, the server option watchKeepAliveMs), for this long is given
   * up and resumed elsewhere: its server may be cut off without the
   * connection breaking. Default 15,000 ms; keep it above the server's
   * keep-alive interval.
   */
  readonly idleTimeoutMs?: number;
}

export const DEFAULT_WATCH_IDLE_TIMEOUT_MS = 15_000;

/** Refuses an idle timeout that is not a positive number of milliseconds. */
export function checkWatchIdle(options: WatchIdle): void {
  const ms = options.idleTimeoutMs;
  if (ms !== undefined && !(Number.isFinite(ms) && ms > 0)) {
    throw new ClientError("INVALID_ARGUMENT", `idleTimeoutMs must be a positive number, got ${ms}`);
  }
}

export function watchRequestJson(key: Bytes, filter: WatchFilter, startRevision: number): Json {
  const filters = [
    ...(filter.noPut === true ? ["NOPUT"] : []),
    ...(filter.noDelete === true ? ["NODELETE"] : []),
  ];
  return {
    ...keyRangeJson({ ...filter, key: toBytes(key) }),
    ...(startRevision > 0 && { start_revision: startRevision }),
    ...(filter.prevKv === true && { prev_kv: true }),
    ...(filters.length > 0 && { filters }),
    ...(filter.progressNotify === true && { progress_notify: true }),
  };
}

/** The `header.revision` of a created or progress message. */
export function messageRevision(data: string, what: string): number {
  return headerRevision(asObject(parseData(data, what), what), what);
}

export function eventsBatch(data: string): WatchBatch {
  const o = asObject(parseData(data, "watch events"), "watch events");
  const events = asArray(o["events"], "watch events.events").map((raw, i): WatchEvent => {
    const at = `watch events.events[${i}]`;
    const e = asObject(raw, at);
    const type = e["type"] === "DELETE" ? "delete" : "put";
    const kv = KeyValue.fromJson(e["kv"], `${at}.kv`);
    return e["prev_kv"] === undefined
      ? { type, kv }
      : { type, kv, prevKv: KeyValue.fromJson(e["prev_kv"], `${at}.prev_kv`) };
  });
  return { revision: headerRevision(o, "watch events"), events };
}

export function parseData(data: string, what: string): unknown {
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return asObject(undefined, `${what} data`);
  }
}

/** One message of a watch stream, decoded. */
export type WatchMessage =
  | { readonly kind: "created"; readonly revision: number }
  | { readonly kind: "events"; readonly batch: WatchBatch }
  | { readonly kind: "progress"; readonly revision: number };

export interface WatchMessageOptions {
  /** The typed error an `error` message carries. */
  errorOf(body: Json): ClientError;
  /** Error codes after which a new stream can carry on from where this one stopped. */
  readonly resumable: ReadonlySet<string>;
  /** The watch was cancelled: a broken stream is then no error. */
  stopped(): boolean;
  /** See WatchIdle; default DEFAULT_WATCH_IDLE_TIMEOUT_MS. */
  readonly idleTimeoutMs?: number;
}

/** A stream silent for longer than the idle timeout: treated as a broken connection. */
class StreamIdleError extends Error {
  constructor(ms: number) {
    super(`the watch stream sent nothing for ${ms} ms`);
  }
}

/** Passes `body` through; fails with StreamIdleError when no chunk comes for `ms`. */
async function* untilIdle(body: AsyncIterable<Uint8Array>, ms: number): AsyncGenerator<Uint8Array> {
  const it = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StreamIdleError(ms)), ms);
      });
      let next: IteratorResult<Uint8Array>;
      try {
        next = await Promise.race([it.next(), idle]);
      } finally {
        clearTimeout(timer);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // The caller closes the request, which ends a read still pending.
    void it.return?.()?.catch(() => {});
  }
}

/**
 * Decodes one watch stream (server-sent events). Returns, once the stream
 * ends, the error that ends the whole watch: an `error` message whose code
 * is not resumable, or a malformed message. A stream that ended or broke
 * returns undefined: a new one can resume.
 */
export async function* watchMessages(
  body: AsyncIterable<Uint8Array>,
  options: WatchMessageOptions,
): AsyncGenerator<WatchMessage, ClientError | undefined> {
  try {
    const idleMs = options.idleTimeoutMs ?? DEFAULT_WATCH_IDLE_TIMEOUT_MS;
    for await (const message of parseSse(untilIdle(body, idleMs))) {
      switch (message.event) {
        case "created":
          yield { kind: "created", revision: messageRevision(message.data, "watch created") };
          break;
        case "events":
          yield { kind: "events", batch: eventsBatch(message.data) };
          break;
        case "progress":
          yield { kind: "progress", revision: messageRevision(message.data, "watch progress") };
          break;
        case "error": {
          const error = options.errorOf(
            asObject(parseData(message.data, "watch error"), "watch error"),
          );
          return options.resumable.has(error.code) ? undefined : error;
        }
      }
    }
  } catch (error) {
    // A malformed message ends the watch; a broken connection only this stream.
    if (error instanceof ClientError && !options.stopped()) return error;
  }
  return undefined;
}
