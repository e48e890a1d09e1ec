import type { Clock } from "../clock.js";
import type { GrantedLease, LockKeyspace } from "./port.js";

/**
 * Keeps a queued waiter's lease (and so its place) alive from `start` until
 * `stop`, remembering how long the last confirmed renewal keeps it alive.
 */
export class WaitingKeepAlive {
  readonly #clock: Clock;
  readonly #keyspace: LockKeyspace;
  readonly #lease: GrantedLease;
  readonly #name: string;
  /** Aborts when the store says the lease is gone (the waiter lost its place). */
  readonly #expired = new AbortController();
  #stopped = false;
  #cancelTimer = () => {};
  /** When the last confirmed grant or keep-alive was sent, and the TTL it confirmed. */
  #confirmedSentAtMs: number;
  #confirmedTtlMs: number;

  /** `grantSentAtMs`: when the lease grant was sent (the first proof the lease lives). */
  constructor(
    clock: Clock,
    keyspace: LockKeyspace,
    lease: GrantedLease,
    name: string,
    grantSentAtMs: number,
  ) {
    this.#clock = clock;
    this.#keyspace = keyspace;
    this.#lease = lease;
    this.#name = name;
    this.#confirmedSentAtMs = grantSentAtMs;
    this.#confirmedTtlMs = lease.ttlMs;
  }

  /**
   * Until when the lease surely lives (for a holder asking `requestTtlMs`),
   * on the local clock: measured from when the last confirmed renewal was
   * sent, since the server renewed it later than that.
   */
  heldUntilMs(requestTtlMs: number): number {
    return this.#confirmedSentAtMs + Math.min(requestTtlMs, this.#confirmedTtlMs);
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
      const sentAtMs = this.#clock.now();
      this.#keyspace
        .keepAlive(this.#lease.id, this.#name)
        .then(
          (leftMs) => {
            if (leftMs <= 0) {
              this.#expired.abort();
            } else if (sentAtMs > this.#confirmedSentAtMs) {
              this.#confirmedSentAtMs = sentAtMs;
              this.#confirmedTtlMs = leftMs;
            }
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
