import { InvalidArgumentError } from "../../errors.js";
import type { ServiceSnapshot } from "../instance.js";
import type { Balancer, UpdateReport } from "./types.js";

export interface FollowOptions {
  /** Called after each snapshot is applied. */
  readonly onUpdate?: (report: UpdateReport, snapshot: ServiceSnapshot) => void;
}

/**
 * Applies every snapshot of a stream (such as `Registry.watch`) to a
 * balancer, in order. Resolves when the stream ends or `signal` aborts (the
 * stream is then closed); rejects if the stream fails or a snapshot is refused.
 */
export async function followSnapshots(
  balancer: Balancer,
  snapshots: AsyncIterable<ServiceSnapshot>,
  signal?: AbortSignal,
  options: FollowOptions = {},
): Promise<void> {
  if (typeof snapshots?.[Symbol.asyncIterator] !== "function") {
    throw new InvalidArgumentError("snapshots must be an async iterable");
  }
  if (signal?.aborted) return;
  const iterator = snapshots[Symbol.asyncIterator]();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<"aborted">((resolve) => {
    onAbort = () => resolve("aborted");
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    for (;;) {
      const pending = iterator.next();
      const next = await Promise.race([pending, aborted]);
      if (next === "aborted") {
        pending.catch(() => {});
        break;
      }
      if (next.done === true) break;
      const report = balancer.update(next.value.instances);
      options.onUpdate?.(report, next.value);
    }
  } finally {
    if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
    // Closing may wait on the stream's own I/O; an aborted follower does not wait for it.
    const closing = iterator.return?.();
    if (signal?.aborted !== true) await closing;
    else closing?.catch(() => {});
  }
}
