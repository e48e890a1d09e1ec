import type { Clock } from "../clock.js";
import type { GrantedLease, LockKeyspace } from "./port.js";

/** Keeps a queued waiter's lease (and so its place) alive from `start` until `stop`. */
export class WaitingKeepAlive {
  readonly #clock: Clock;
  readonly #keyspace: LockKeyspace;
  readonly #lease: GrantedLease;
  readonly #name: string;
  /** Aborts when the store says the lease is gone (the waiter lost its place). */
  readonly #expired = new AbortController();
  #stopped = false;
  #cancelTimer = () => {};

  constructor(clock: Clock, keyspace: LockKeyspace, lease: GrantedLease, name: string) {
    this.#clock = clock;
    this.#keyspace = keyspace;
    this.#lease = lease;
    this.#name = name;
  }

  /** Starts renewing; returns the signal that aborts when the lease is gone. */
  start(): AbortSignal {
    this.#schedule();
    return this.#expired.signal;
  }

  stop(): void {
    this.#stopped = true;
    this.#cancelTimer();
  }

  #schedule(): void {
    this.#cancelTimer = this.#clock.setTimer(() => {
      this.#keyspace
        .keepAlive(this.#lease.id, this.#name)
        .then(
          (leftMs) => {
            if (leftMs <= 0) this.#expired.abort();
          },
          // Unreachable: try again; the key may expire, which the next look notices.
          () => {},
        )
        .finally(() => {
          if (!this.#stopped && !this.#expired.signal.aborted) this.#schedule();
        });
    }, this.#lease.ttlMs / 3);
  }
}
