import { atInstant, type Clock } from "../clock.js";

/**
 * The end of a held lease as the holder's own process enforces it. The
 * servers (etcd, ZooKeeper) only expire a lease in whole seconds or session
 * timeouts, and ZooKeeper sessions are kept alive by the client library's
 * pings whether or not the lock is renewed; so the backend gives the lock up
 * itself when `heldUntilMs` passes without a renewal, and the server's expiry
 * only covers a holder that died or was cut off.
 */
export class LocalLeaseEnd {
  readonly #clock: Clock;
  readonly #onEnd: () => void;
  #heldUntilMs: number;
  #cancel: () => void;
  #ended = false;

  constructor(clock: Clock, heldUntilMs: number, onEnd: () => void) {
    this.#clock = clock;
    this.#onEnd = onEnd;
    this.#heldUntilMs = heldUntilMs;
    this.#cancel = this.#arm();
  }

  /** True once the lease ran out (or was stopped): it can no longer be renewed. */
  get ended(): boolean {
    return this.#ended;
  }

  get heldUntilMs(): number {
    return this.#heldUntilMs;
  }

  /** Moves the end later; returns false if the lease already ended. */
  extendTo(heldUntilMs: number): boolean {
    if (this.#ended) return false;
    if (heldUntilMs > this.#heldUntilMs) {
      this.#heldUntilMs = heldUntilMs;
      this.#cancel();
      this.#cancel = this.#arm();
    }
    return true;
  }

  /** Ends the lease now without calling onEnd (released, or the backend closed). */
  stop(): void {
    this.#ended = true;
    this.#cancel();
  }

  #arm(): () => void {
    return atInstant(this.#clock, this.#heldUntilMs, () => {
      if (this.#ended) return;
      this.#ended = true;
      this.#onEnd();
    });
  }
}
