import type { LeaseGrant, LeaseRef, LockBackend } from "./backend.js";
import { LockLostError, NotLockOwnerError } from "./errors.js";
import type { LeaderHandle, LeaseKind, LockHandle, TokenType } from "./types.js";
import { validateLeaderValue, validateTtlMs } from "./validate.js";

/** What a handle needs from the client that created it. */
export interface HandleContext<TToken extends TokenType> {
  readonly backend: LockBackend<TToken>;
  /** How long before the backend's lease end the loss signal fires, for a lease of ttlMs. */
  safetyMarginMs(ttlMs: number): number;
  /** Called once when the handle stops being held (released or lost). */
  onSettled(handle: LeaseHandle<TToken>): void;
}

type HandleState = "held" | "lost" | "released";

/**
 * A held lease plus its watchdog. The watchdog renews every ttlMs/3; a timer
 * armed at (lease end - safety margin) fires the loss signal if renewals do
 * not keep up. The lease end only moves forward on a successful renewal, and
 * it is measured from when that renewal was sent, so the signal always fires
 * before the backend could grant the lease to anyone else.
 */
export class LeaseHandle<TToken extends TokenType> implements LockHandle<TToken> {
  readonly name: string;
  readonly kind: LeaseKind;
  readonly fencingToken: TToken;
  readonly #ref: LeaseRef;
  readonly #ctx: HandleContext<TToken>;
  readonly #autoRenew: boolean;
  readonly #controller = new AbortController();
  #ttlMs: number;
  #heldUntilMs: number;
  #state: HandleState = "held";
  #cancelLossTimer: (() => void) | undefined;
  #cancelRenewTimer: (() => void) | undefined;
  #releasing: Promise<void> | undefined;
  #detachLost: (() => void) | undefined;

  constructor(
    ctx: HandleContext<TToken>,
    ref: LeaseRef,
    grant: LeaseGrant<TToken>,
    ttlMs: number,
    autoRenew: boolean,
  ) {
    this.#ctx = ctx;
    this.#ref = ref;
    this.name = ref.name;
    this.kind = ref.kind;
    this.fencingToken = grant.fencingToken;
    this.#ttlMs = ttlMs;
    this.#heldUntilMs = grant.heldUntilMs;
    this.#autoRenew = autoRenew;
    const lost = grant.lost;
    if (lost !== undefined) {
      const onLost = () => this.#markLost("the backend reported the session or connection lost");
      if (lost.aborted) queueMicrotask(onLost);
      else {
        lost.addEventListener("abort", onLost, { once: true });
        this.#detachLost = () => lost.removeEventListener("abort", onLost);
      }
    }
    this.#armLossTimer();
    if (autoRenew) this.#scheduleRenewal(ttlMs / 3);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  get held(): boolean {
    return this.remainingMs() > 0;
  }

  /** The owner id the backend knows this lease by (for diagnostics and tests). */
  get ownerId(): string {
    return this.#ref.ownerId;
  }

  remainingMs(): number {
    if (this.#state !== "held") return 0;
    return Math.max(0, this.#lossAtMs() - this.#ctx.backend.clock.now());
  }

  assertHeld(): void {
    if (!this.held) {
      throw new LockLostError(
        this.name,
        this.#state === "released" ? "the handle was released" : "the lease is no longer valid",
      );
    }
  }

  async extend(ttlMs?: number): Promise<void> {
    const newTtlMs = ttlMs === undefined ? this.#ttlMs : validateTtlMs(ttlMs);
    this.assertHeld();
    await this.#renew(newTtlMs);
    if (this.#state !== "held") throw this.#lossReason();
    this.#ttlMs = newTtlMs;
    if (this.#autoRenew) this.#scheduleRenewal(newTtlMs / 3);
  }

  release(): Promise<void> {
    this.#releasing ??= this.#doRelease();
    return this.#releasing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  /** Stops the watchdog and marks the lease lost without telling the backend (the process "crashed"). */
  abandon(reason: string): void {
    this.#markLost(reason);
  }

  protected get ref(): LeaseRef {
    return this.#ref;
  }

  protected get backend(): LockBackend<TToken> {
    return this.#ctx.backend;
  }

  async #doRelease(): Promise<void> {
    const wasHeld = this.#state === "held";
    this.#stopTimers();
    if (wasHeld) {
      this.#state = "released";
      this.#controller.abort(new LockLostError(this.name, "the handle was released"));
      this.#ctx.onSettled(this);
    }
    await this.#ctx.backend.release(this.#ref);
  }

  async #renew(ttlMs: number): Promise<void> {
    try {
      const renewal = await this.#ctx.backend.extend(this.#ref, ttlMs);
      if (this.#state !== "held") return;
      if (renewal.heldUntilMs > this.#heldUntilMs) {
        this.#heldUntilMs = renewal.heldUntilMs;
        this.#armLossTimer();
      }
    } catch (error) {
      if (error instanceof LockLostError || error instanceof NotLockOwnerError) {
        this.#markLost("the backend says the lease is no longer ours", error);
      }
      throw error;
    }
  }

  #scheduleRenewal(delayMs: number): void {
    this.#cancelRenewTimer?.();
    this.#cancelRenewTimer = this.#ctx.backend.clock.setTimer(() => {
      this.#cancelRenewTimer = undefined;
      if (this.#state !== "held") return;
      this.#renew(this.#ttlMs).then(
        () => {
          if (this.#state === "held") this.#scheduleRenewal(this.#ttlMs / 3);
        },
        () => {
          // An unreachable backend: retry soon; the loss timer fires if it stays unreachable.
          if (this.#state === "held") this.#scheduleRenewal(Math.max(5, this.#ttlMs / 10));
        },
      );
    }, delayMs);
  }

  #lossAtMs(): number {
    return this.#heldUntilMs - this.#ctx.safetyMarginMs(this.#ttlMs);
  }

  #armLossTimer(): void {
    this.#cancelLossTimer?.();
    const clock = this.#ctx.backend.clock;
    const delayMs = this.#lossAtMs() - clock.now();
    this.#cancelLossTimer = clock.setTimer(() => {
      this.#cancelLossTimer = undefined;
      if (this.#state !== "held") return;
      // A timer can fire early by a fraction of a ms; re-arm rather than lose too soon.
      if (clock.now() < this.#lossAtMs()) this.#armLossTimer();
      else this.#markLost("the lease was not renewed in time");
    }, delayMs);
  }

  #markLost(reason: string, cause?: unknown): void {
    if (this.#state !== "held") return;
    this.#state = "lost";
    this.#stopTimers();
    this.#controller.abort(new LockLostError(this.name, reason, { cause }));
    this.#ctx.onSettled(this);
  }

  #lossReason(): unknown {
    return this.#controller.signal.reason;
  }

  #stopTimers(): void {
    this.#cancelLossTimer?.();
    this.#cancelLossTimer = undefined;
    this.#cancelRenewTimer?.();
    this.#cancelRenewTimer = undefined;
    this.#detachLost?.();
    this.#detachLost = undefined;
  }
}

/** A won election. */
export class LeaderLeaseHandle<TToken extends TokenType>
  extends LeaseHandle<TToken>
  implements LeaderHandle<TToken>
{
  #value: string;

  constructor(
    ctx: HandleContext<TToken>,
    ref: LeaseRef,
    grant: LeaseGrant<TToken>,
    ttlMs: number,
    autoRenew: boolean,
    value: string,
  ) {
    super(ctx, ref, grant, ttlMs, autoRenew);
    this.#value = value;
  }

  get value(): string {
    return this.#value;
  }

  async proclaim(value: string): Promise<void> {
    const checked = validateLeaderValue(value);
    if (!this.held) throw new NotLockOwnerError(this.name, "proclaim on");
    await this.backend.proclaim(this.ref, checked);
    this.#value = checked;
  }

  resign(): Promise<void> {
    return this.release();
  }
}
