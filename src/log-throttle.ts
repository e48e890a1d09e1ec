/**
 * A repeated warning (a refused connection, an invalid peer frame, a client
 * over its limit) is logged at most once per interval per kind; the next one
 * that gets through says how many were suppressed in between. An attacker who
 * can make a member log on every attempt could otherwise fill its disk.
 */

/** The call shape of pino's `warn`, so a pino logger (or a child) fits as is. */
export interface WarnSink {
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface LogThrottleOptions {
  /** At most one line per key in this window. Default 10 s. */
  readonly intervalMs?: number;
  /** Distinct keys remembered; the oldest is forgotten past this. Default 1,000. */
  readonly maxKeys?: number;
  /** The clock; a monotonic one by default. */
  readonly now?: () => number;
}

interface KeyState {
  lastLoggedAt: number;
  suppressed: number;
}

export class LogThrottle {
  readonly #sink: WarnSink;
  readonly #intervalMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #keys = new Map<string, KeyState>();

  constructor(sink: WarnSink, options: LogThrottleOptions = {}) {
    this.#sink = sink;
    this.#intervalMs = options.intervalMs ?? 10_000;
    this.#maxKeys = options.maxKeys ?? 1000;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Logs `message` unless a line with the same `key` went out within the
   * interval; returns whether it was logged.
   */
  warn(key: string, fields: Record<string, unknown>, message: string): boolean {
    const now = this.#now();
    const state = this.#keys.get(key);
    if (state !== undefined && now - state.lastLoggedAt < this.#intervalMs) {
      state.suppressed++;
      return false;
    }
    const suppressed = state?.suppressed ?? 0;
    this.#keys.delete(key);
    if (this.#keys.size >= this.#maxKeys) {
      const oldest = this.#keys.keys().next();
      if (oldest.done !== true) this.#keys.delete(oldest.value);
    }
    this.#keys.set(key, { lastLoggedAt: now, suppressed: 0 });
    this.#sink.warn(suppressed > 0 ? { ...fields, suppressed } : fields, message);
    return true;
  }
}
