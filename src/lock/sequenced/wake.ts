import { atInstant, type Clock } from "../clock.js";

export type WakeReason = "woken" | "deadline" | "aborted" | "recheck";

export interface WakeOptions {
  readonly clock: Clock;
  /** Give up at this instant on `clock` (Infinity: never). */
  readonly deadlineMs: number;
  /**
   * Look again after this long even without a notification: a watch the
   * server dropped without telling must not strand a waiter.
   */
  readonly recheckMs: number;
  /** Any of these aborting ends the wait with "aborted". */
  readonly signals: readonly AbortSignal[];
}

/**
 * Sleeps until `arm`'s watch calls `wake`, the deadline passes, a signal
 * aborts or the recheck interval runs out, whichever comes first. `arm`
 * installs the watch and returns how to remove it; it is always removed
 * before this resolves.
 */
export function waitForWake(
  options: WakeOptions,
  arm: (wake: () => void) => () => void,
): Promise<WakeReason> {
  const { clock, deadlineMs, recheckMs, signals } = options;
  return new Promise((resolve) => {
    let settled = false;
    const cleanups: (() => void)[] = [];
    const finish = (reason: WakeReason) => {
      if (settled) return;
      settled = true;
      for (const cleanup of cleanups.splice(0)) cleanup();
      resolve(reason);
    };
    for (const signal of signals) {
      if (signal.aborted) return finish("aborted");
      const onAbort = () => finish("aborted");
      signal.addEventListener("abort", onAbort, { once: true });
      cleanups.push(() => signal.removeEventListener("abort", onAbort));
    }
    const recheckAtMs = clock.now() + recheckMs;
    if (deadlineMs <= recheckAtMs) {
      if (Number.isFinite(deadlineMs))
        cleanups.push(atInstant(clock, deadlineMs, () => finish("deadline")));
    } else {
      cleanups.push(clock.setTimer(() => finish("recheck"), recheckMs));
    }
    const disarm = arm(() => finish("woken"));
    if (settled) disarm();
    else cleanups.push(disarm);
  });
}
