import type { Clock } from "../../clock.js";
import { RaftAbortedError, RaftTimeoutError } from "./errors.js";

/**
 * A pending request: settled exactly once, by its outcome, its timeout, its
 * AbortSignal or the node stopping.
 */
export class Pending<T> {
  readonly promise: Promise<T>;
  private resolveFn!: (v: T) => void;
  private rejectFn!: (e: Error) => void;
  private cancelTimer: (() => void) | undefined;
  private cleanupSignal: (() => void) | undefined;
  settled = false;

  constructor(
    clock: Clock,
    what: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    onSettle: () => void,
  ) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    const finish = onSettle;
    this.onSettle = finish;
    if (Number.isFinite(timeoutMs)) {
      this.cancelTimer = clock.setTimer(
        () => this.reject(new RaftTimeoutError(what, timeoutMs)),
        timeoutMs,
      );
    }
    if (signal !== undefined) {
      const onAbort = (): void => this.reject(new RaftAbortedError(what, { cause: signal.reason }));
      if (signal.aborted) queueMicrotask(onAbort);
      else {
        signal.addEventListener("abort", onAbort, { once: true });
        this.cleanupSignal = () => signal.removeEventListener("abort", onAbort);
      }
    }
  }

  private onSettle: () => void;

  resolve(v: T): void {
    if (this.settle()) this.resolveFn(v);
  }

  reject(e: Error): void {
    if (this.settle()) this.rejectFn(e);
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.cancelTimer?.();
    this.cleanupSignal?.();
    this.onSettle();
    return true;
  }
}
