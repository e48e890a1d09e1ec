import { AbortedError, ClientClosedError, LeaseNotFoundError } from "./errors.js";
import type { LeaseKeepAliveResult } from "./lease-wire.js";
import type { CallOptions } from "./transport.js";

/** Sends one batch: each lease's refreshed TTL in seconds, 0 for a lease not found. */
export type SendKeepAlives = (
  ids: readonly number[],
  options: CallOptions,
) => Promise<{ readonly revision: number; readonly ttls: ReadonlyMap<number, number> }>;

interface Waiter {
  readonly id: number;
  readonly timeoutMs: number | undefined;
  resolve(result: LeaseKeepAliveResult): void;
  reject(err: unknown): void;
}

/**
 * Coalesces the keep-alives a client sends within `windowMs` into one request
 * (at most `maxBatch` leases each), so a process holding thousands of leases
 * costs the leader a request per window rather than one per lease, as etcd's
 * clients share one keep-alive stream. Each caller still gets its own lease's
 * answer or error; a caller's signal gives up its wait, not the batch.
 */
export class KeepAliveBatcher {
  #queue: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(
    private readonly send: SendKeepAlives,
    private readonly windowMs: number,
    private readonly maxBatch: number,
  ) {}

  keepAlive(id: number, options: CallOptions = {}): Promise<LeaseKeepAliveResult> {
    if (this.#closed) return Promise.reject(new ClientClosedError());
    const { signal } = options;
    if (signal?.aborted === true) return Promise.reject(new AbortedError(signal.reason));
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new AbortedError(signal?.reason));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push({
        id,
        timeoutMs: options.timeoutMs,
        resolve: (r) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(r);
        },
        reject: (e) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      });
      if (this.#queue.length >= this.maxBatch) this.#flush();
      else if (this.#timer === undefined) {
        this.#timer = setTimeout(() => this.#flush(), this.windowMs);
        this.#timer.unref();
      }
    });
  }

  /** Fails every queued keep-alive with ClientClosedError; later ones fail at once. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const queued = this.#queue;
    this.#queue = [];
    for (const w of queued) w.reject(new ClientClosedError());
  }

  #flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queue.splice(0, this.maxBatch);
    if (this.#queue.length > 0) {
      this.#timer = setTimeout(() => this.#flush(), 0);
      this.#timer.unref();
    }
    if (batch.length === 0) return;
    const ids = [...new Set(batch.map((w) => w.id))];
    // The batch's budget is the shortest any of its callers asked for.
    const budgets = batch.flatMap((w) => (w.timeoutMs === undefined ? [] : [w.timeoutMs]));
    const options = budgets.length === 0 ? {} : { timeoutMs: Math.min(...budgets) };
    this.send(ids, options).then(
      ({ revision, ttls }) => {
        for (const w of batch) {
          const ttlSeconds = ttls.get(w.id) ?? 0;
          if (ttlSeconds > 0) w.resolve({ revision, id: w.id, ttlSeconds });
          else w.reject(new LeaseNotFoundError(`lease ${w.id} not found`, 404));
        }
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}
