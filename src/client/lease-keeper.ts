import { ClientClosedError, LeaseLostError, LeaseNotFoundError } from "./errors.js";
import type { LeaseGrantResult, LeaseKeepAliveResult } from "./lease-wire.js";
import { sleepUnlessAborted } from "./sleep.js";
import type { CallOptions } from "./transport.js";

/** The calls a keeper makes; the client provides them. */
export interface LeaseCalls {
  leaseKeepAliveOnce(id: number, options?: CallOptions): Promise<LeaseKeepAliveResult>;
  leaseRevoke(id: number, options?: CallOptions): Promise<{ revision: number }>;
}

export interface LeaseKeeperOptions {
  /** From one keepalive's send (or the grant's) to the next; default a third of the TTL. */
  readonly keepAliveIntervalMs?: number;
  /**
   * The lease counts as lost this long before its TTL runs out since the last
   * successful keepalive was sent, to leave room for clock drift and the time
   * the caller needs to stop. Default: a quarter of the TTL, at most 1000 ms.
   */
  readonly safetyMarginMs?: number;
  /**
   * When the grant was sent, in Date.now() ms: the lease's TTL counts from no
   * later, and so does the first keepalive. Default: when the keeper is built.
   */
  readonly grantedAtMs?: number;
  readonly onClose?: () => void;
}

/**
 * Keeps a granted lease alive. `signal` aborts (reason: LeaseLostError, or
 * ClientClosedError when the client closed) as soon as the lease may have
 * expired, so work guarded by the lease can stop in time.
 */
export class LeaseKeeper implements AsyncDisposable {
  readonly id: number;
  readonly ttlSeconds: number;
  readonly signal: AbortSignal;
  private readonly lost = new AbortController();
  /** Stops the keepalive loop (revoke, close, loss). */
  private readonly stop = new AbortController();
  private readonly intervalMs: number;
  private readonly marginMs: number;
  private lostTimer: ReturnType<typeof setTimeout> | undefined;
  private revoking: Promise<void> | undefined;

  constructor(
    private readonly calls: LeaseCalls,
    granted: LeaseGrantResult,
    private readonly options: LeaseKeeperOptions = {},
  ) {
    this.id = granted.id;
    this.ttlSeconds = granted.ttlSeconds;
    this.signal = this.lost.signal;
    const ttlMs = granted.ttlSeconds * 1000;
    this.intervalMs = options.keepAliveIntervalMs ?? Math.max(1, Math.floor(ttlMs / 3));
    this.marginMs = options.safetyMarginMs ?? Math.min(1000, Math.floor(ttlMs / 4));
    const grantedAtMs = options.grantedAtMs ?? Date.now();
    this.armLostTimer(grantedAtMs + ttlMs - this.marginMs);
    void this.keepAlive(grantedAtMs);
  }

  /** Stops keeping alive and revokes the lease (its keys are deleted). */
  revoke(options: CallOptions = {}): Promise<void> {
    this.revoking ??= (async () => {
      this.halt(new LeaseLostError(this.id, `lease ${this.id} was revoked`));
      await this.calls.leaseRevoke(this.id, options);
    })();
    return this.revoking;
  }

  /** Stops keeping alive without revoking: the lease expires on its own. */
  close(): void {
    this.halt(new ClientClosedError("lease keeper"));
  }

  /** Revokes; a lease that is already gone is not an error here. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.revoke();
    } catch (error) {
      if (!(error instanceof LeaseNotFoundError)) throw error;
    }
  }

  private halt(reason: Error): void {
    clearTimeout(this.lostTimer);
    if (!this.stop.signal.aborted) {
      this.stop.abort();
      this.options.onClose?.();
    }
    if (!this.lost.signal.aborted) this.lost.abort(reason);
  }

  private armLostTimer(atMs: number): void {
    clearTimeout(this.lostTimer);
    this.lostTimer = setTimeout(
      () =>
        this.halt(
          new LeaseLostError(
            this.id,
            `no keepalive of lease ${this.id} succeeded within its TTL minus ${this.marginMs} ms`,
          ),
        ),
      Math.max(0, atMs - Date.now()),
    );
  }

  /**
   * Every keepalive is due one interval after the last refresh was sent (the
   * grant counts as one), not after its answer came back: the lost timer
   * counts from the send, so a slow answer (a grant during an election) must
   * not push the next refresh towards the loss deadline. A refresh already
   * overdue goes out at once.
   */
  private async keepAlive(refreshSentAtMs: number): Promise<void> {
    const stop = this.stop.signal;
    let delayMs = this.dueInMs(refreshSentAtMs);
    while (await sleepUnlessAborted(delayMs, stop)) {
      const sentAtMs = Date.now();
      try {
        const answer = await this.calls.leaseKeepAliveOnce(this.id, {
          signal: stop,
          timeoutMs: this.intervalMs,
        });
        // The server refreshed the TTL no earlier than the request was sent.
        this.armLostTimer(sentAtMs + answer.ttlSeconds * 1000 - this.marginMs);
        delayMs = this.dueInMs(sentAtMs);
      } catch (error) {
        if (stop.aborted) return;
        if (error instanceof LeaseNotFoundError) {
          this.halt(
            new LeaseLostError(this.id, `lease ${this.id} no longer exists`, { cause: error }),
          );
          return;
        }
        // Transient: try again sooner; the lost timer fires if nothing succeeds in time.
        delayMs = Math.max(1, Math.floor(this.intervalMs / 3));
      }
    }
  }

  /** How long until the keepalive after a refresh sent at `refreshSentAtMs` is due. */
  private dueInMs(refreshSentAtMs: number): number {
    return Math.max(0, refreshSentAtMs + this.intervalMs - Date.now());
  }
}
