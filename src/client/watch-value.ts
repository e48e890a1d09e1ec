import { backoffDelayMs } from "./backoff.js";
import type { Bytes } from "./bytes.js";
import type { ConclaveClient } from "./client.js";
import {
  AbortedError,
  ClientClosedError,
  ClientError,
  CompactedError,
  DeadlineExceededError,
  UnavailableError,
} from "./errors.js";
import type { KeyValue } from "./key-value.js";
import { sleepUnlessAborted } from "./sleep.js";
import type { WatchBatch } from "./watch-wire.js";

/** One state of the watched key. */
export interface ValueChange<T> {
  /** The parsed value; undefined when the key is absent (or deleted), or when `error` is set. */
  readonly value: T | undefined;
  /** The store revision this state is at: the first read's revision, then each change's. */
  readonly revision: number;
  /** The key-value as stored; undefined when the key is absent. */
  readonly kv: KeyValue | undefined;
  /** With `onInvalid: "report"`: why the stored value could not be parsed. */
  readonly error?: unknown;
}

export interface WatchValueOptions<T> {
  /** Turns the stored bytes into a value; throwing marks the value invalid. Default: the bytes. */
  readonly parse?: (bytes: Uint8Array) => T;
  /**
   * What to do with a value `parse` rejects: "report" yields it with `error`
   * set (and `value` undefined), "skip" leaves it out. Default "report".
   */
  readonly onInvalid?: "skip" | "report";
  /** Aborting ends the iteration (it completes; it does not throw). */
  readonly signal?: AbortSignal;
}

/** What watchValue needs of the client. */
export type ValueWatchClient = Pick<ConclaveClient, "range" | "watch">;

/**
 * The value of one key, now and at every change: the current state first
 * (from a linearizable read), then one state per revision that changed the
 * key, in order. The watch starts at the read's revision + 1 and resumes
 * from the last delivered revision + 1 after a dropped stream or a lost
 * server, so no change is missed or repeated. If the history to resume from
 * was compacted away, the key is read again and its current state yielded
 * (unless it is the state last yielded): intermediate changes are lost then,
 * which is all a compacted store allows.
 *
 * ```ts
 * const parse = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as Limits;
 * for await (const { value } of watchValue(client, "config/limits", { parse })) {
 *   if (value !== undefined) apply(value);
 * }
 * ```
 */
export function watchValue<T = Uint8Array>(
  client: ValueWatchClient,
  key: Bytes,
  options: WatchValueOptions<T> = {},
): AsyncIterable<ValueChange<T>> {
  const onInvalid = options.onInvalid ?? "report";
  if (onInvalid !== "skip" && onInvalid !== "report") {
    throw new ClientError(
      "INVALID_ARGUMENT",
      `onInvalid must be "skip" or "report", got ${String(onInvalid)}`,
    );
  }
  if (options.parse !== undefined && typeof options.parse !== "function") {
    throw new ClientError("INVALID_ARGUMENT", "parse must be a function");
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new ClientError("INVALID_ARGUMENT", "signal must be an AbortSignal");
  }
  if (typeof key !== "string" && !(key instanceof Uint8Array)) {
    throw new ClientError("INVALID_ARGUMENT", "key must be a string or bytes");
  }
  const parse = options.parse ?? ((bytes: Uint8Array) => bytes as T);
  return {
    [Symbol.asyncIterator]: () => follow(client, key, parse, onInvalid, options.signal),
  };
}

async function* follow<T>(
  client: ValueWatchClient,
  key: Bytes,
  parse: (bytes: Uint8Array) => T,
  onInvalid: "skip" | "report",
  outer: AbortSignal | undefined,
): AsyncGenerator<ValueChange<T>, void, undefined> {
  const stop = new AbortController();
  const signal = outer === undefined ? stop.signal : AbortSignal.any([outer, stop.signal]);
  const change = (kv: KeyValue | undefined, revision: number): ValueChange<T> | undefined => {
    if (kv === undefined) return { value: undefined, revision, kv };
    try {
      return { value: parse(kv.value), revision, kv };
    } catch (error) {
      return onInvalid === "skip" ? undefined : { value: undefined, revision, kv, error };
    }
  };
  /** The modRevision of the state last yielded; 0 for "absent". */
  let lastModRevision: number | undefined;
  try {
    while (!signal.aborted) {
      const read = await readKey(client, key, signal);
      if (read === undefined) return;
      const kv = read.kvs[0];
      const modRevision = kv?.modRevision ?? 0;
      if (modRevision !== lastModRevision) {
        lastModRevision = modRevision;
        const first = change(kv, read.revision);
        if (first !== undefined) yield first;
      }
      const stream = client.watch(key, { startRevision: read.revision + 1, signal });
      try {
        for await (const batch of stream) {
          const event = lastEventOf(batch);
          if (event === undefined) continue;
          const deleted = event.type === "delete";
          lastModRevision = deleted ? 0 : event.kv.modRevision;
          const next = change(deleted ? undefined : event.kv, batch.revision);
          if (next !== undefined) yield next;
        }
        return;
      } catch (error) {
        if (signal.aborted || error instanceof ClientClosedError) return;
        // The history to resume from is gone: read the key again.
        if (!(error instanceof CompactedError)) throw error;
      } finally {
        stream.cancel();
      }
    }
  } finally {
    stop.abort();
  }
}

/** The last event of a batch (a batch is one revision; for one key, at most one event matters). */
function lastEventOf(batch: WatchBatch) {
  return batch.events.length === 0 ? undefined : batch.events[batch.events.length - 1];
}

/** A linearizable read of the key; transient failures are retried with backoff until `signal` aborts. */
async function readKey(client: ValueWatchClient, key: Bytes, signal: AbortSignal) {
  for (let retry = 0; ; retry++) {
    try {
      return await client.range({ key, signal });
    } catch (error) {
      if (signal.aborted || error instanceof AbortedError || error instanceof ClientClosedError) {
        return undefined;
      }
      const transient =
        error instanceof UnavailableError ||
        error instanceof DeadlineExceededError ||
        (error instanceof ClientError && (error.status === 503 || error.status === 504));
      if (!transient) throw error;
      if (!(await sleepUnlessAborted(backoffDelayMs(retry, Math.random), signal))) {
        return undefined;
      }
    }
  }
}
