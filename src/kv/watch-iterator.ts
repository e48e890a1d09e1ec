import type { KvStore } from "./store.js";
import type { WatchOptions, WatchResponse } from "./watch.js";

export interface WatchStream extends AsyncIterableIterator<WatchResponse> {
  readonly watchId: number;
  /** Ends the stream; pending responses are dropped. */
  cancel(): void;
}

/**
 * A watcher as an async iterator. Responses queue while the consumer is
 * busy (unbounded: a consumer that never reads holds memory); the stream ends
 * on cancel or abort, and throws if the watcher is cancelled with an error.
 */
export function watchStream(
  store: KvStore,
  options: WatchOptions,
  signal?: AbortSignal,
): WatchStream {
  const queue: WatchResponse[] = [];
  let done = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  const watcher = store.watch(
    options,
    (r) => {
      queue.push(r);
      notify();
    },
    (error) => {
      failure = error ?? new Error("watch failed");
      done = true;
      notify();
    },
  );
  const cancel = (): void => {
    done = true;
    queue.length = 0;
    watcher.cancel();
    signal?.removeEventListener("abort", cancel);
    notify();
  };
  if (signal?.aborted) cancel();
  else signal?.addEventListener("abort", cancel, { once: true });

  const stream: WatchStream = {
    watchId: watcher.id,
    cancel,
    async next(): Promise<IteratorResult<WatchResponse>> {
      for (;;) {
        const head = queue.shift();
        if (head !== undefined) return { value: head, done: false };
        if (failure !== undefined) {
          const error = failure;
          failure = undefined;
          throw error;
        }
        if (done) return { value: undefined, done: true };
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
    async return(): Promise<IteratorResult<WatchResponse>> {
      cancel();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}
