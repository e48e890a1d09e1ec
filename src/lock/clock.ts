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

/**
 * A clock that only moves when told to: for deterministic tests of code that
 * uses locks (pass it to the in-memory backend). `advance` runs due timers in
 * order and lets promise chains they start settle between them.
 */
export class ManualClock implements Clock {
  #nowMs: number;
  #sequence = 0;
  readonly #timers = new Map<number, { atMs: number; fn: () => void }>();

  constructor(startMs = 0) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  setTimer(fn: () => void, delayMs: number): () => void {
    const id = this.#sequence++;
    this.#timers.set(id, { atMs: this.#nowMs + Math.max(0, delayMs), fn });
    return () => this.#timers.delete(id);
  }

  /** Number of timers waiting to fire. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first. */
  async advance(ms: number): Promise<void> {
    const targetMs = this.#nowMs + ms;
    for (;;) {
      await settle();
      let nextId: number | undefined;
      let next: { atMs: number; fn: () => void } | undefined;
      for (const [id, timer] of this.#timers) {
        if (timer.atMs <= targetMs && (next === undefined || timer.atMs < next.atMs)) {
          nextId = id;
          next = timer;
        }
      }
      if (next === undefined || nextId === undefined) break;
      this.#timers.delete(nextId);
      this.#nowMs = Math.max(this.#nowMs, next.atMs);
      next.fn();
    }
    this.#nowMs = targetMs;
    await settle();
  }
}

/** Lets pending promise callbacks run (several hops deep). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise<void>((resolve) => setImmediate(resolve));
}
