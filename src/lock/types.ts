/**
 * Public types of `conclave/lock`: options, handles and what a backend
 * guarantees. The same shapes serve every backend; a backend that cannot give
 * strictly increasing fencing tokens (Redlock) is typed with
 * `TToken = undefined`, so code that needs fencing does not compile against it.
 */

/** A token that strictly increases with every grant of the same lock name. */
export type FencingToken = bigint;

/** The token type a backend hands out: a {@link FencingToken}, or `undefined` where none can be honest. */
export type TokenType = FencingToken | undefined;

/**
 * The primitives a backend may offer. Each kind has its own namespace: a mutex
 * "jobs" and a semaphore "jobs" are unrelated. `read` and `write` share the
 * read-write lock of the same name.
 */
export type LeaseKind = "mutex" | "read" | "write" | "semaphore" | "leader";

export const LEASE_KINDS: readonly LeaseKind[] = ["mutex", "read", "write", "semaphore", "leader"];

export interface AcquireOptions {
  /**
   * Lease length. The lock is kept while held by renewing it every ttlMs/3
   * (unless `autoRenew` is false); if the holder dies it is free after at
   * most ttlMs. Integer, 10 ≤ ttlMs ≤ 2^31-1. Default: the client's `defaultTtlMs`.
   */
  ttlMs?: number;
  /**
   * How long to wait for a lock held by others before rejecting with
   * `LockTimeoutError`. 0 means one attempt. Default: Infinity (wait until
   * acquired or `signal` aborts).
   */
  waitMs?: number;
  /** Aborting cancels the wait (rejecting with `LockAbortedError`) and leaves nothing queued behind. */
  signal?: AbortSignal;
  /** Renew the lease in the background while held (a watchdog). Default true. */
  autoRenew?: boolean;
  /** Called once if the first attempt does not succeed and the caller starts to wait. */
  onQueued?: () => void;
}

/** Options of the `tryAcquire` family: one attempt, no waiting. */
export type TryAcquireOptions = Omit<AcquireOptions, "waitMs" | "onQueued">;

/**
 * A held lease: a mutex, a read or write lock, a semaphore permit or a
 * leadership. `await using h = await locks.acquire(...)` releases it at the
 * end of the block.
 */
export interface LockHandle<TToken extends TokenType = FencingToken> extends AsyncDisposable {
  readonly name: string;
  readonly kind: LeaseKind;
  /**
   * Strictly increases with every grant of this name (and kind namespace).
   * Pass it to the resource you protect so it can reject writes from an
   * older holder. `undefined` on backends that cannot give one (Redlock).
   */
  readonly fencingToken: TToken;
  /**
   * Aborts (with a `LockLostError` reason) when the lock may have been lost:
   * the lease is about to run out, renewal failed, the session ended. It
   * fires a safety margin before any other owner could be granted the lock.
   * Also aborts after release (reason: "released").
   */
  readonly signal: AbortSignal;
  /** The lease length used for grant and renewals. */
  readonly ttlMs: number;
  /** True while the lease is known to be valid by the local clock. */
  readonly held: boolean;
  /** Milliseconds of guaranteed validity left (0 once lost or released). */
  remainingMs(): number;
  /** Throws `LockLostError` unless the lease is known to be valid right now. */
  assertHeld(): void;
  /** Renews the lease now for `ttlMs` (default: the handle's ttlMs). Rejects with `LockLostError` if lost. */
  extend(ttlMs?: number): Promise<void>;
  /**
   * Stops renewal and releases. A second call is a no-op. Rejects with
   * `NotLockOwnerError` if the backend says the lease had already passed to
   * someone else (the work done under it was not protected).
   */
  release(): Promise<void>;
}

/** A won election: the same handle shape plus the proclaimed value. */
export interface LeaderHandle<TToken extends TokenType = FencingToken> extends LockHandle<TToken> {
  /** The value this leader currently proclaims. */
  readonly value: string;
  /** Publishes a new value while staying leader. Rejects with `NotLockOwnerError` if no longer leader. */
  proclaim(value: string): Promise<void>;
  /** Gives up leadership (the same as release). */
  resign(): Promise<void>;
}

/** Who leads an election right now. */
export interface LeaderSnapshot<TToken extends TokenType = FencingToken> {
  readonly value: string;
  readonly fencingToken: TToken;
}

/** What happens to a lock whose holder dies without releasing it. */
export type HolderCrashBehaviour =
  /** The lease runs out: the lock is free ttlMs after the last renewal, never before. */
  | "expires-after-ttl"
  /** The lock lives in the holder's connection: the server frees it when the connection drops. */
  | "released-on-disconnect";

/** What a backend promises; stated by each backend and tested by the conformance suite. */
export interface BackendGuarantees {
  /** Short backend name: "memory", "redis", "redlock", "postgres", "etcd", ... */
  readonly backend: string;
  /** "strict": tokens strictly increase per name. "none": no token is given (typed `undefined`). */
  readonly fencing: "strict" | "none";
  /** Waiters are granted in the order they started waiting (FIFO). */
  readonly fair: boolean;
  /** No backend is reentrant: a second acquire of a held name waits like any other caller. */
  readonly reentrant: false;
  /** The primitives this backend offers; others reject with `UnsupportedByBackendError`. */
  readonly kinds: readonly LeaseKind[];
  readonly onHolderCrash: HolderCrashBehaviour;
  /** One sentence: what happens when the holder is cut off from the backend. */
  readonly partition: string;
}

export interface LockClientOptions {
  /** Lease length when an acquire does not give `ttlMs`. Default 30 000. */
  defaultTtlMs?: number;
  /**
   * The handle's signal fires this fraction of ttlMs before the backend's
   * conservative lease end (at least `minSafetyMarginMs`). Default 0.1.
   */
  safetyMarginRatio?: number;
  /** Lower bound of the safety margin. Default 5 ms. */
  minSafetyMarginMs?: number;
}
