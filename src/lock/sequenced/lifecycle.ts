import type { WaitControl } from "../backend.js";
import { LockAbortedError, LockClientClosedError } from "../errors.js";

/**
 * The open/closing state of a backend and the acquisitions still under way,
 * which `close` lets finish (withdrawing what they queued) before it
 * closes the connection they use.
 */
export class BackendLifecycle {
  readonly #what: string;
  readonly #closing = new AbortController();
  readonly #pending = new Set<Promise<unknown>>();

  /** `what` names the backend in LockClientClosedError, e.g. "the etcd lock backend". */
  constructor(what: string) {
    this.#what = what;
  }

  /** Aborts once the backend starts closing. */
  get closing(): AbortSignal {
    return this.#closing.signal;
  }

  checkOpen(): void {
    if (this.#closing.signal.aborted) throw new LockClientClosedError(this.#what);
  }

  /** Throws when the backend closed or the caller aborted its wait. */
  throwIfStopped(wait: WaitControl, name: string): void {
    this.checkOpen();
    if (wait.signal.aborted) throw new LockAbortedError(name, { cause: wait.signal.reason });
  }

  /** Remembers an acquisition until it settles. */
  track<T>(operation: Promise<T>): Promise<T> {
    this.#pending.add(operation);
    const forget = () => this.#pending.delete(operation);
    operation.then(forget, forget);
    return operation;
  }

  /** Starts closing; false if the backend was already closing. */
  beginClose(): boolean {
    if (this.#closing.signal.aborted) return false;
    this.#closing.abort(new LockClientClosedError(this.#what));
    return true;
  }

  /** Resolves once every tracked acquisition settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }
}
