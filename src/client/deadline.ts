import { AbortedError, ClientClosedError, ClientError, DeadlineExceededError } from "./errors.js";

/**
 * One call's time budget and cancellation: `signal` aborts with a
 * DeadlineExceededError when `timeoutMs` passes, or with an AbortedError when
 * the caller's signal fires, so whoever sees the abort knows which it was.
 */
export class Deadline implements Disposable {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly endsAtMs: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onCallerAbort: () => void;

  constructor(
    readonly timeoutMs: number,
    private readonly callerSignal?: AbortSignal,
  ) {
    this.signal = this.controller.signal;
    this.endsAtMs = Date.now() + timeoutMs;
    this.onCallerAbort = () => this.controller.abort(new AbortedError(callerSignal?.reason));
    if (callerSignal?.aborted) this.onCallerAbort();
    else callerSignal?.addEventListener("abort", this.onCallerAbort, { once: true });
    if (!this.signal.aborted) {
      this.timer = setTimeout(
        () => this.controller.abort(new DeadlineExceededError(timeoutMs)),
        timeoutMs,
      );
    }
  }

  remainingMs(): number {
    return Math.max(0, this.endsAtMs - Date.now());
  }

  /** The reason the signal aborted, as a client error; throws it if aborted. */
  throwIfDone(): void {
    if (this.signal.aborted) throw this.signal.reason;
  }

  /** Waits `ms`, or rejects with the abort reason if the deadline or the caller ends it first. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.signal.aborted) {
        reject(this.signal.reason);
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(this.signal.reason);
      };
      const timer = setTimeout(() => {
        this.signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      this.signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Stops the clock but keeps the caller's cancellation: for a stream that outlives its opening. */
  disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  [Symbol.dispose](): void {
    this.disarm();
    this.callerSignal?.removeEventListener("abort", this.onCallerAbort);
  }
}

/**
 * A new call's deadline: the call's `timeoutMs`, else `defaultMs`, and its
 * signal. Throws CLIENT_CLOSED once the client is closed.
 */
export function callDeadline(
  options: { readonly signal?: AbortSignal; readonly timeoutMs?: number },
  defaultMs: number,
  closed: boolean,
): Deadline {
  if (closed) throw new ClientClosedError();
  const timeoutMs = options.timeoutMs ?? defaultMs;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ClientError("INVALID_ARGUMENT", `timeoutMs must be positive, got ${timeoutMs}`);
  }
  return new Deadline(timeoutMs, options.signal);
}
