/**
 * The clock a lock client and its backend share. Lease deadlines
 * (`heldUntilMs`) are instants on it, so a backend and the client using it
 * must use the same instance.
 */
import type { Clock } from "../clock.js";

export { type Clock, MAX_TIMER_DELAY_MS, ManualClock, systemClock } from "../clock.js";

/**
 * Resolves after `delayMs` on `clock`, or early (without throwing) when
 * `signal` aborts. Returns true if the full delay elapsed.
 */
export function sleep(clock: Clock, delayMs: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      cancel();
      resolve(false);
    };
    const cancel = clock.setTimer(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, delayMs);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `fn` once `clock.now() >= instantMs`. Node timers may fire up to a
 * millisecond early by `performance.now()`; this re-arms instead, so a wait
 * never gives up before its deadline. Returns a cancel function.
 */
export function atInstant(clock: Clock, instantMs: number, fn: () => void): () => void {
  let cancel = () => {};
  const arm = () => {
    cancel = clock.setTimer(
      () => {
        if (clock.now() >= instantMs) fn();
        else arm();
      },
      Math.max(1, instantMs - clock.now()),
    );
  };
  arm();
  return () => cancel();
}
