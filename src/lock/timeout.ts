import { BackendUnavailableError } from "./errors.js";

interface PendingCall {
  readonly deadlineMs: number;
  /** Rejects the call; cleared once it settles so the queue retains nothing of it. */
  expire: (() => void) | undefined;
}

/**
 * Bounds every backend call by one timeout, with a single timer per backend
 * instead of one per call: all calls share the same timeout, so their
 * deadlines arrive in call order and a FIFO queue is enough. The timer is
 * armed for the oldest unsettled call only; a call that settles just marks
 * its entry. Every failure becomes BackendUnavailableError naming the backend.
 */
export class CallTimeouts {
  readonly #label: string;
  readonly #timeoutMs: number;
  #queue: PendingCall[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(label: string, timeoutMs: number) {
    this.#label = label;
    this.#timeoutMs = timeoutMs;
  }

  run<T>(lockName: string | undefined, call: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: PendingCall = {
        deadlineMs: performance.now() + this.#timeoutMs,
        expire: () =>
          reject(
            new BackendUnavailableError(
              this.#label,
              `no reply within ${this.#timeoutMs} ms`,
              lockName,
            ),
          ),
      };
      this.#dropSettled();
      this.#queue.push(entry);
      if (this.#timer === undefined) this.#arm();
      call().then(
        (value) => {
          entry.expire = undefined;
          resolve(value);
        },
        (error: unknown) => {
          entry.expire = undefined;
          if (error instanceof BackendUnavailableError) return reject(error);
          const detail = error instanceof Error ? error.message : String(error);
          reject(new BackendUnavailableError(this.#label, detail, lockName, { cause: error }));
        },
      );
    });
  }

  #arm(): void {
    this.#dropSettled();
    const oldest = this.#queue[this.#head];
    if (oldest === undefined) {
      this.#timer = undefined;
      return;
    }
    this.#timer = setTimeout(
      () => this.#sweep(),
      Math.max(1, Math.ceil(oldest.deadlineMs - performance.now())),
    );
    this.#timer.unref();
  }

  #sweep(): void {
    const now = performance.now();
    for (;;) {
      const entry = this.#queue[this.#head];
      if (entry === undefined || (entry.expire !== undefined && entry.deadlineMs > now)) break;
      this.#head += 1;
      const expire = entry.expire;
      entry.expire = undefined;
      expire?.();
    }
    this.#arm();
  }

  #dropSettled(): void {
    const queue = this.#queue;
    while (this.#head < queue.length && queue[this.#head]!.expire === undefined) this.#head += 1;
    if (this.#head === queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
