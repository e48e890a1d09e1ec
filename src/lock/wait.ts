/**
 * The wait loop shared by backends that poll with hints and notifications
 * (Redis, Redlock, PostgreSQL): attempt, and if the lease is taken, sleep
 * until the holder's lease may have ended or a release notification arrives,
 * then attempt again — until granted, the deadline passes or the caller aborts.
 */
import type { WaitControl } from "./backend.js";
import { atInstant, type Clock } from "./clock.js";
import { LockAbortedError, LockTimeoutError } from "./errors.js";

export type AttemptOutcome<T> =
  | { readonly granted: T }
  /** Not granted; another attempt is worth making after at most this many ms. */
  | { readonly retryInMs: number };

export interface WaitLoop<T> {
  readonly clock: Clock;
  readonly name: string;
  readonly wait: WaitControl;
  /** The outcome of an attempt the caller already made (its fast path), if any. */
  readonly first?: AttemptOutcome<T>;
  attempt(): Promise<AttemptOutcome<T>>;
  /**
   * Starts delivering release notifications to `wake`; resolves once they are
   * flowing (so a release after the next attempt cannot be missed) with a
   * function that stops them.
   */
  subscribe?(wake: () => void): Promise<() => void>;
  /** Removes what failed attempts left behind (a fair-queue entry). Best effort. */
  leave?(): Promise<void>;
  /** Releases a grant that arrived after the caller aborted. Best effort. */
  release(granted: T): Promise<void>;
}

export async function waitForGrant<T>(loop: WaitLoop<T>): Promise<T> {
  const { clock, wait, name } = loop;
  const first = loop.first ?? (await loop.attempt());
  if ("granted" in first) return first.granted;
  let unsubscribe: () => void = () => {};
  const waker = new Waker();
  try {
    if (clock.now() >= wait.deadlineMs) throw new LockTimeoutError(name, wait.waitMs);
    throwIfAborted(wait.signal, name);
    if (loop.subscribe !== undefined) {
      // Notifications only speed things up: if subscribing is slow (a server
      // that stopped answering), wait by polling and adopt it if it arrives.
      const subscription = lateSubscription(loop.subscribe(() => waker.wake()));
      unsubscribe = subscription.unsubscribe;
      const nap = napFor(clock, first.retryInMs, wait.signal);
      await Promise.race([subscription.ready, nap.done]);
      nap.cancel();
    }
    wait.onQueued();
    for (;;) {
      throwIfAborted(wait.signal, name);
      const outcome = await loop.attempt();
      if ("granted" in outcome) {
        if (wait.signal.aborted) {
          await loop.release(outcome.granted).catch(() => {});
          throwIfAborted(wait.signal, name);
        }
        return outcome.granted;
      }
      if (clock.now() >= wait.deadlineMs) throw new LockTimeoutError(name, wait.waitMs);
      const wakeAtMs = Math.min(clock.now() + Math.max(1, outcome.retryInMs), wait.deadlineMs);
      await waker.sleepUntil(clock, wakeAtMs, wait.signal);
    }
  } catch (error) {
    await loop.leave?.().catch(() => {});
    throw error;
  } finally {
    unsubscribe();
  }
}

/**
 * Wraps a pending subscription so it can be given up at any time: if it
 * resolves after `unsubscribe` was called, it is undone at once.
 */
export function lateSubscription(pending: Promise<() => void>): {
  readonly ready: Promise<void>;
  unsubscribe(): void;
} {
  let stop: (() => void) | undefined;
  let cancelled = false;
  const ready = pending.then(
    (unsubscribe) => {
      if (cancelled) unsubscribe();
      else stop = unsubscribe;
    },
    () => {},
  );
  return {
    ready,
    unsubscribe() {
      cancelled = true;
      stop?.();
      stop = undefined;
    },
  };
}

/** A sleep that can be cut short and cleaned up (no timer or listener left behind). */
function napFor(
  clock: Clock,
  delayMs: number,
  signal: AbortSignal,
): { readonly done: Promise<void>; cancel(): void } {
  let cancel = () => {};
  const done = new Promise<void>((resolve) => {
    const finish = () => {
      cancel();
      resolve();
    };
    const cancelTimer = clock.setTimer(finish, Math.max(1, delayMs));
    signal.addEventListener("abort", finish, { once: true });
    cancel = () => {
      cancelTimer();
      signal.removeEventListener("abort", finish);
    };
  });
  return { done, cancel: () => cancel() };
}

function throwIfAborted(signal: AbortSignal, name: string): void {
  if (signal.aborted) throw new LockAbortedError(name, { cause: signal.reason });
}

/** A sleep that a notification can cut short; a notification during an attempt is remembered. */
class Waker {
  #pending = false;
  #resolve: (() => void) | undefined;

  wake(): void {
    if (this.#resolve === undefined) this.#pending = true;
    else this.#resolve();
  }

  sleepUntil(clock: Clock, instantMs: number, signal: AbortSignal): Promise<void> {
    if (this.#pending || signal.aborted) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        cancel();
        signal.removeEventListener("abort", done);
        this.#resolve = undefined;
        resolve();
      };
      const cancel = atInstant(clock, instantMs, done);
      signal.addEventListener("abort", done, { once: true });
      this.#resolve = done;
    });
  }
}
