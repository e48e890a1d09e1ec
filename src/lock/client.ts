import { randomBytes } from "node:crypto";
import { InvalidArgumentError } from "../errors.js";
import type { LeaseRef, LockBackend } from "./backend.js";
import {
  LockAbortedError,
  LockClientClosedError,
  LockLostError,
  LockTimeoutError,
  UnsupportedByBackendError,
} from "./errors.js";
import { type HandleContext, LeaderLeaseHandle, LeaseHandle } from "./handle.js";
import { Election, ReadWriteLock, Semaphore } from "./primitives.js";
import type {
  AcquireOptions,
  BackendGuarantees,
  FencingToken,
  LeaseKind,
  LockClientOptions,
  LockHandle,
  TokenType,
  TryAcquireOptions,
} from "./types.js";
import {
  validateAcquireOptions,
  validateLeaderValue,
  validateLockName,
  validatePermits,
  validateTtlMs,
} from "./validate.js";

const DEFAULT_TTL_MS = 30_000;
const DEFAULT_SAFETY_MARGIN_RATIO = 0.1;
const DEFAULT_MIN_SAFETY_MARGIN_MS = 5;

/** Extra request fields for kinds that need them. */
interface LeaseExtras {
  readonly permits?: number;
  readonly value?: string;
}

/**
 * The lock API over one backend: mutexes, read-write locks, semaphores and
 * elections, all handing out the same {@link LockHandle}.
 *
 * ```ts
 * const locks = new LockClient(new RedisLockBackend({ redis }));
 * await using lock = await locks.acquire("orders", { ttlMs: 10_000, waitMs: 5_000 });
 * await store.write(order, { fencingToken: lock.fencingToken });
 * ```
 */
export class LockClient<TToken extends TokenType = FencingToken> {
  readonly backend: LockBackend<TToken>;
  readonly #defaultTtlMs: number;
  readonly #marginRatio: number;
  readonly #minMarginMs: number;
  readonly #held = new Set<LeaseHandle<TToken>>();
  readonly #closing = new AbortController();
  readonly #handleContext: HandleContext<TToken>;
  #closed: Promise<void> | undefined;
  /** 96 random bits per client plus a counter: unique owner ids without a syscall per acquire. */
  readonly #ownerPrefix = randomBytes(12).toString("hex");
  #ownerCounter = 0;

  constructor(backend: LockBackend<TToken>, options: LockClientOptions = {}) {
    this.backend = backend;
    this.#defaultTtlMs = validateTtlMs(options.defaultTtlMs ?? DEFAULT_TTL_MS, "defaultTtlMs");
    this.#marginRatio = options.safetyMarginRatio ?? DEFAULT_SAFETY_MARGIN_RATIO;
    if (!(this.#marginRatio >= 0 && this.#marginRatio < 0.5)) {
      throw new InvalidArgumentError("safetyMarginRatio must be in [0, 0.5)");
    }
    this.#minMarginMs = options.minSafetyMarginMs ?? DEFAULT_MIN_SAFETY_MARGIN_MS;
    if (!(this.#minMarginMs >= 0 && this.#minMarginMs < 10)) {
      throw new InvalidArgumentError("minSafetyMarginMs must be in [0, 10)");
    }
    this.#handleContext = {
      backend,
      safetyMarginMs: (ttlMs) => this.safetyMarginMs(ttlMs),
      onSettled: (handle) => this.#held.delete(handle),
    };
  }

  /** What the backend guarantees (fencing, fairness, crash and partition behaviour). */
  get guarantees(): BackendGuarantees {
    return this.backend.guarantees;
  }

  /** How long before the backend's conservative lease end a handle's signal fires. */
  safetyMarginMs(ttlMs: number): number {
    return Math.max(this.#minMarginMs, ttlMs * this.#marginRatio);
  }

  /** Acquires the mutex `name`, waiting up to `waitMs` (default: without limit). */
  acquire(name: string, options?: AcquireOptions): Promise<LockHandle<TToken>> {
    return this.acquireLease("mutex", name, options, {});
  }

  /** One attempt at the mutex `name`; undefined if someone else holds it. */
  tryAcquire(name: string, options?: TryAcquireOptions): Promise<LockHandle<TToken> | undefined> {
    return this.tryAcquireLease("mutex", name, options, {});
  }

  /** Runs `fn` holding the mutex `name`; releases afterwards, also when `fn` throws. */
  withLock<T>(
    name: string,
    fn: (lock: LockHandle<TToken>) => Promise<T> | T,
    options?: AcquireOptions,
  ): Promise<T> {
    return runHolding(this.acquire(name, options), fn);
  }

  readWriteLock(name: string): ReadWriteLock<TToken> {
    return new ReadWriteLock(this, validateLockName(name));
  }

  /** A counting semaphore admitting `permits` holders at once. Every user of `name` must agree on `permits`. */
  semaphore(name: string, options: { permits: number }): Semaphore<TToken> {
    return new Semaphore(this, validateLockName(name), validatePermits(options?.permits));
  }

  election(name: string): Election<TToken> {
    return new Election(this, validateLockName(name));
  }

  /** Locks held through this client right now. */
  get heldCount(): number {
    return this.#held.size;
  }

  /**
   * Rejects new acquisitions, aborts pending waits, releases every lock held
   * through this client (errors ignored: the leases expire anyway), then closes
   * the backend. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort(new LockClientClosedError("the lock client"));
      await Promise.allSettled([...this.#held].map((h) => h.release()));
      await this.backend.close();
    })();
    return this.#closed;
  }

  /**
   * Stops every watchdog and closes the backend WITHOUT releasing: held locks
   * stay taken until their leases run out, exactly as if this process had
   * crashed. Handles report the loss on their signal.
   */
  destroy(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort(new LockClientClosedError("the lock client"));
      for (const handle of [...this.#held]) handle.abandon("the lock client was destroyed");
      await this.backend.close();
    })();
    return this.#closed;
  }

  #nextOwnerId(): string {
    this.#ownerCounter += 1;
    return `${this.#ownerPrefix}${this.#ownerCounter.toString(16)}`;
  }

  /** @internal Shared by the primitives: acquire a lease of any kind. */
  async acquireLease(
    kind: LeaseKind,
    name: string,
    options: AcquireOptions | undefined,
    extras: LeaseExtras,
  ): Promise<LeaseHandle<TToken>> {
    const checkedName = validateLockName(name);
    const opts = validateAcquireOptions(options, this.#defaultTtlMs, Number.POSITIVE_INFINITY);
    const value = extras.value === undefined ? undefined : validateLeaderValue(extras.value);
    if (this.#closing.signal.aborted) throw new LockClientClosedError("the lock client");
    if (!this.guarantees.kinds.includes(kind)) {
      throw new UnsupportedByBackendError(
        this.guarantees.backend,
        kind === "leader" ? "elections" : kind === "semaphore" ? "semaphores" : `${kind} locks`,
        "see the backend's guarantees and docs/locks.md",
      );
    }
    if (opts.signal?.aborted) {
      throw new LockAbortedError(checkedName, { cause: opts.signal.reason });
    }
    const clock = this.backend.clock;
    const deadlineMs = clock.now() + opts.waitMs;
    const signal =
      opts.signal === undefined
        ? this.#closing.signal
        : AbortSignal.any([opts.signal, this.#closing.signal]);
    let queued = false;
    const onQueued = () => {
      if (queued || opts.onQueued === undefined) return;
      queued = true;
      queueMicrotask(opts.onQueued);
    };

    for (;;) {
      const ref: LeaseRef & { ttlMs: number; value?: string } = {
        kind,
        name: checkedName,
        ownerId: this.#nextOwnerId(),
        ttlMs: opts.ttlMs,
        ...(extras.permits === undefined ? {} : { permits: extras.permits }),
        ...(value === undefined ? {} : { value }),
      };
      let grant: Awaited<ReturnType<LockBackend<TToken>["acquire"]>>;
      try {
        grant = await this.backend.acquire(ref, {
          deadlineMs,
          waitMs: opts.waitMs,
          signal,
          onQueued,
        });
      } catch (error) {
        if (this.#closing.signal.aborted && error instanceof LockAbortedError) {
          throw new LockClientClosedError("the lock client");
        }
        throw error;
      }
      // After any wait, check the lease is still worth handing out: a stalled
      // event loop may have eaten it while the reply sat in a queue.
      const marginMs = this.safetyMarginMs(opts.ttlMs);
      if (grant.heldUntilMs - marginMs > clock.now()) {
        const handle =
          kind === "leader"
            ? new LeaderLeaseHandle(
                this.#handleContext,
                ref,
                grant,
                opts.ttlMs,
                opts.autoRenew,
                value ?? "",
              )
            : new LeaseHandle(this.#handleContext, ref, grant, opts.ttlMs, opts.autoRenew);
        this.#held.add(handle);
        if (this.#closing.signal.aborted) {
          await handle.release().catch(() => {});
          throw new LockClientClosedError("the lock client");
        }
        return handle;
      }
      await this.backend.release(ref).catch(() => {});
      if (clock.now() >= deadlineMs) {
        throw new LockLostError(
          checkedName,
          "the lease ran out before acquire could return it (the process was stalled)",
        );
      }
    }
  }

  /** @internal One attempt at a lease of any kind. */
  async tryAcquireLease(
    kind: LeaseKind,
    name: string,
    options: TryAcquireOptions | undefined,
    extras: LeaseExtras,
  ): Promise<LeaseHandle<TToken> | undefined> {
    const base = options ?? {};
    try {
      return await this.acquireLease(kind, name, { ...base, waitMs: 0 }, extras);
    } catch (error) {
      if (error instanceof LockTimeoutError) return undefined;
      throw error;
    }
  }
}

/** Acquires, runs fn, releases; fn's error wins over a release error. */
export async function runHolding<H extends LockHandle<TokenType>, T>(
  acquiring: Promise<H>,
  fn: (handle: H) => Promise<T> | T,
): Promise<T> {
  const handle = await acquiring;
  let result: T;
  try {
    result = await fn(handle);
  } catch (error) {
    await handle.release().catch(() => {});
    throw error;
  }
  await handle.release();
  return result;
}
