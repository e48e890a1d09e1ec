import type { LockClient } from "./client.js";
import { runHolding } from "./client.js";
import { UnsupportedByBackendError } from "./errors.js";
import type { LeaderLeaseHandle } from "./handle.js";
import type {
  AcquireOptions,
  LeaderHandle,
  LeaderSnapshot,
  LockHandle,
  TokenType,
  TryAcquireOptions,
} from "./types.js";
import { validateLeaderValue, validateSignal } from "./validate.js";

/**
 * A read-write lock: many readers or one writer. Readers and writers share
 * one fencing sequence per name, so a writer's token is above every token
 * handed out before it.
 */
export class ReadWriteLock<TToken extends TokenType> {
  readonly name: string;
  readonly #client: LockClient<TToken>;

  constructor(client: LockClient<TToken>, name: string) {
    this.#client = client;
    this.name = name;
  }

  acquireRead(options?: AcquireOptions): Promise<LockHandle<TToken>> {
    return this.#client.acquireLease("read", this.name, options, {});
  }

  tryAcquireRead(options?: TryAcquireOptions): Promise<LockHandle<TToken> | undefined> {
    return this.#client.tryAcquireLease("read", this.name, options, {});
  }

  acquireWrite(options?: AcquireOptions): Promise<LockHandle<TToken>> {
    return this.#client.acquireLease("write", this.name, options, {});
  }

  tryAcquireWrite(options?: TryAcquireOptions): Promise<LockHandle<TToken> | undefined> {
    return this.#client.tryAcquireLease("write", this.name, options, {});
  }

  withReadLock<T>(
    fn: (lock: LockHandle<TToken>) => Promise<T> | T,
    options?: AcquireOptions,
  ): Promise<T> {
    return runHolding(this.acquireRead(options), fn);
  }

  withWriteLock<T>(
    fn: (lock: LockHandle<TToken>) => Promise<T> | T,
    options?: AcquireOptions,
  ): Promise<T> {
    return runHolding(this.acquireWrite(options), fn);
  }
}

/** A counting semaphore: at most `permits` holders at once; each handle is one permit. */
export class Semaphore<TToken extends TokenType> {
  readonly name: string;
  readonly permits: number;
  readonly #client: LockClient<TToken>;

  constructor(client: LockClient<TToken>, name: string, permits: number) {
    this.#client = client;
    this.name = name;
    this.permits = permits;
  }

  acquire(options?: AcquireOptions): Promise<LockHandle<TToken>> {
    return this.#client.acquireLease("semaphore", this.name, options, { permits: this.permits });
  }

  tryAcquire(options?: TryAcquireOptions): Promise<LockHandle<TToken> | undefined> {
    return this.#client.tryAcquireLease("semaphore", this.name, options, {
      permits: this.permits,
    });
  }

  withPermit<T>(
    fn: (permit: LockHandle<TToken>) => Promise<T> | T,
    options?: AcquireOptions,
  ): Promise<T> {
    return runHolding(this.acquire(options), fn);
  }
}

/**
 * Leader election: campaign until elected, then hold leadership like a lock
 * (renewed while held, lost signal, resign = release). Anyone can observe who
 * leads.
 */
export class Election<TToken extends TokenType> {
  readonly name: string;
  readonly #client: LockClient<TToken>;

  constructor(client: LockClient<TToken>, name: string) {
    this.#client = client;
    this.name = name;
  }

  /** Waits until elected (or waitMs passes), then proclaims `value`. */
  async campaign(value: string, options?: AcquireOptions): Promise<LeaderHandle<TToken>> {
    const handle = await this.#client.acquireLease("leader", this.name, options, {
      value: validateLeaderValue(value),
    });
    return handle as LeaderLeaseHandle<TToken>;
  }

  /** One attempt at leadership; undefined if someone else leads. */
  async tryCampaign(
    value: string,
    options?: TryAcquireOptions,
  ): Promise<LeaderHandle<TToken> | undefined> {
    const handle = await this.#client.tryAcquireLease("leader", this.name, options, {
      value: validateLeaderValue(value),
    });
    return handle as LeaderLeaseHandle<TToken> | undefined;
  }

  /** The current leader, if any. */
  async leader(): Promise<LeaderSnapshot<TToken> | undefined> {
    this.#checkSupported();
    return this.#client.backend.readLeader(this.name);
  }

  /**
   * Yields the current leader (undefined while there is none) and then every
   * change, until `signal` aborts or the loop is broken off.
   */
  async *observe(
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<LeaderSnapshot<TToken> | undefined, void, undefined> {
    const outer = validateSignal(options.signal);
    this.#checkSupported();
    const stop = new AbortController();
    const signal = outer === undefined ? stop.signal : AbortSignal.any([outer, stop.signal]);
    let first = true;
    let last: LeaderSnapshot<TToken> | undefined;
    try {
      for await (const snapshot of this.#client.backend.observeLeader(this.name, signal)) {
        if (!first && sameLeader(last, snapshot)) continue;
        first = false;
        last = snapshot;
        yield snapshot;
      }
    } finally {
      stop.abort();
    }
  }

  #checkSupported(): void {
    const guarantees = this.#client.guarantees;
    if (!guarantees.kinds.includes("leader")) {
      throw new UnsupportedByBackendError(guarantees.backend, "elections", "see docs/locks.md");
    }
  }
}

function sameLeader<T extends TokenType>(
  a: LeaderSnapshot<T> | undefined,
  b: LeaderSnapshot<T> | undefined,
): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.value === b.value && a.fencingToken === b.fencingToken;
}
