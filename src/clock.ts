/**
 * A monotonic clock and its timers: how every layer that waits learns the
 * time. The process uses `systemClock`; the simulator and deterministic
 * tests pass a clock that only moves when told to, so nothing reads
 * `performance.now()` or arms a Node timer behind their back.
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

/**
 * Runs `fn` every `intervalMs` (re-armed before each run, so a slow or
 * throwing `fn` does not stop the loop) until the returned function is called.
 */
export function repeatEvery(clock: Clock, intervalMs: number, fn: () => void): () => void {
  let cancel = () => {};
  const arm = (): void => {
    cancel = clock.setTimer(() => {
      arm();
      fn();
    }, intervalMs);
  };
  arm();
  return () => cancel();
}

/**
 * A clock whose timers fire on a grid of `quantumMs`: a timer is rounded up
 * to the next grid point (never early), and every timer due at one point
 * runs in one callback of `base`. Many Raft groups in one process then tick
 * together, and what they send in that callback can share writes. Time
 * itself (`now`) is the base clock's.
 */
export function gridClock(base: Clock, quantumMs: number): Clock {
  if (!(quantumMs > 0)) throw new RangeError(`quantumMs must be > 0, got ${quantumMs}`);
  const slots = new Map<number, Set<() => void>>();
  return {
    now: () => base.now(),
    setTimer(fn, delayMs) {
      const due = base.now() + Math.max(0, delayMs);
      const slot = Math.ceil(due / quantumMs) * quantumMs;
      let fns = slots.get(slot);
      if (fns === undefined) {
        const created = new Set<() => void>();
        fns = created;
        slots.set(slot, created);
        base.setTimer(() => {
          slots.delete(slot);
          // One throwing timer must not cancel the others of its slot.
          let failure: { error: unknown } | undefined;
          for (const f of created) {
            try {
              f();
            } catch (error) {
              failure ??= { error };
            }
          }
          if (failure !== undefined) throw failure.error;
        }, slot - base.now());
      }
      // A wrapper per timer, so the same function armed twice runs twice.
      const entry = () => fn();
      fns.add(entry);
      const armed = fns;
      return () => {
        armed.delete(entry);
      };
    },
  };
}

/** Node clamps larger delays to 1 ms; callers that need longer waits re-arm. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/**
 * A clock that only moves when told to: for deterministic tests (a Raft node's
 * environment, the in-memory lock backend). `advance` runs due timers in
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
