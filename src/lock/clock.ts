/**
 * The monotonic clock and timers a lock client and its backend share. Lease
 * deadlines (`heldUntilMs`) are instants on this clock, so a backend and the
 * client using it must use the same instance. Tests of code that uses locks
 * can pass a manual clock to the in-memory backend to control time.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale (not wall-clock time). */
  now(): number;
  /** Runs `fn` after `delayMs`; returns a function that cancels it. */
  setTimer(fn: () => void, delayMs: number): () => void;
}

/** The process clock: `performance.now()` and Node timers (unref'd, so a pending renewal never keeps a process alive). */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(fn, delayMs) {
    // Whole milliseconds: Node keeps one timer list per distinct delay.
    const timer = setTimeout(fn, Math.max(0, Math.min(Math.ceil(delayMs), MAX_TIMER_DELAY_MS)));
    timer.unref?.();
    return () => clearTimeout(timer);
  },
};

/** Node clamps larger delays to 1 ms; callers that need longer waits re-arm. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

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
