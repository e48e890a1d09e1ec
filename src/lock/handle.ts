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
 * A held lease plus its watchdog. The watchdog renews every ttlMs/3; while a
 * renewal is in flight, a timer armed at (lease end - safety margin) fires the
 * loss signal if the renewal does not come back in time. The lease end only
 * moves forward on a successful renewal, and it is measured from when that
 * renewal was sent, so the signal always fires before the backend could
 * grant the lease to anyone else.
 *
 * One timer per handle, and the AbortController is only created when someone
 * reads `signal`: an uncontended acquire + release stays cheap.
 */
export class LeaseHandle<TToken extends TokenType> implements LockHandle<TToken> {
  readonly name: string;
  readonly kind: LeaseKind;
  readonly fencingToken: TToken;
  readonly #ref: LeaseRef;
  readonly #ctx: HandleContext<TToken>;
  readonly #autoRenew: boolean;
  #controller: AbortController | undefined;
  /** Why the handle stopped being held; built lazily (an Error captures a stack). */
  #endReason: (() => unknown) | undefined;
  #ttlMs: number;
  #heldUntilMs: number;
  #renewAtMs: number;
  #renewing = false;
  #state: HandleState = "held";
  #cancelTimer: (() => void) | undefined;
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
    this.#renewAtMs = ctx.backend.clock.now() + ttlMs / 3;
    const lost = grant.lost;
    if (lost !== undefined) {
      const onLost = () => this.#markLost("the backend reported the session or connection lost");
      if (lost.aborted) queueMicrotask(onLost);
      else {
        lost.addEventListener("abort", onLost, { once: true });
        this.#detachLost = () => lost.removeEventListener("abort", onLost);
      }
    }
    this.#schedule();
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#endReason !== undefined) this.#controller.abort(this.#endReason());
    }
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
    if (this.#state !== "held") throw this.signal.reason;
    this.#ttlMs = newTtlMs;
    this.#schedule();
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
    if (this.#state === "held") {
      this.#end("released", () => new LockLostError(this.name, "the handle was released"));
    }
    await this.#ctx.backend.release(this.#ref);
  }

  /** Renews for ttlMs; on success moves the lease end and the next renewal forward. */
  async #renew(ttlMs: number): Promise<void> {
    this.#renewing = true;
    try {
      const renewal = await this.#ctx.backend.extend(this.#ref, ttlMs);
      if (this.#state !== "held") return;
      this.#heldUntilMs = Math.max(this.#heldUntilMs, renewal.heldUntilMs);
      this.#renewAtMs = this.#ctx.backend.clock.now() + ttlMs / 3;
    } catch (error) {
      if (error instanceof LockLostError || error instanceof NotLockOwnerError) {
        this.#markLost("the backend says the lease is no longer ours", error);
      } else {
        // Unreachable for now: retry soon; the loss deadline still stands.
        this.#renewAtMs = this.#ctx.backend.clock.now() + Math.max(5, ttlMs / 10);
      }
      throw error;
    } finally {
      this.#renewing = false;
    }
  }

  /** Arms the one timer: at the next renewal, or at the loss deadline while a renewal is out. */
  #schedule(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    if (this.#state !== "held") return;
    const clock = this.#ctx.backend.clock;
    const lossAtMs = this.#lossAtMs();
    const renewDue = this.#autoRenew && !this.#renewing;
    const atMs = renewDue ? Math.min(this.#renewAtMs, lossAtMs) : lossAtMs;
    this.#cancelTimer = clock.setTimer(() => this.#onTimer(), atMs - clock.now());
  }

  #onTimer(): void {
    this.#cancelTimer = undefined;
    if (this.#state !== "held") return;
    const now = this.#ctx.backend.clock.now();
    if (now >= this.#lossAtMs()) {
      this.#markLost("the lease was not renewed in time");
      return;
    }
    if (this.#autoRenew && !this.#renewing && now >= this.#renewAtMs) {
      this.#renew(this.#ttlMs).then(
        () => this.#schedule(),
        () => this.#schedule(),
      );
    }
    // Also re-arms after a timer that fired a fraction of a ms early.
    this.#schedule();
  }

  #lossAtMs(): number {
    return this.#heldUntilMs - this.#ctx.safetyMarginMs(this.#ttlMs);
  }

  #markLost(reason: string, cause?: unknown): void {
    if (this.#state !== "held") return;
    this.#end("lost", () => new LockLostError(this.name, reason, { cause }));
  }

  #end(state: Exclude<HandleState, "held">, reason: () => unknown): void {
    this.#state = state;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#detachLost?.();
    this.#detachLost = undefined;
    let built: unknown;
    this.#endReason = () => {
      built ??= reason();
      return built;
    };
    this.#controller?.abort(this.#endReason());
    this.#ctx.onSettled(this);
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
