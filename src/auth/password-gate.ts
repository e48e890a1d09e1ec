import { AuthError } from "./errors.js";

/** Too many password hashes or checks are running; the caller may retry shortly. */
export class TooManyPasswordChecksError extends AuthError {
  constructor(limit: number) {
    super(
      429,
      "TOO_MANY_AUTH_REQUESTS",
      `${limit} password checks are already running on this member; retry shortly`,
    );
  }
}

/**
 * Bounds the bcrypt work running at once. Each check costs tens of
 * milliseconds of CPU by design and `authenticate` is open to anyone, so
 * without a bound a flood of guesses takes every core from the requests of
 * users who already hold tokens. Over the bound a request is refused at once
 * rather than queued: a queue would only hold the flood longer.
 */
export class PasswordGate {
  #running = 0;

  constructor(readonly maxConcurrent: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.maxConcurrent) {
      throw new TooManyPasswordChecksError(this.maxConcurrent);
    }
    this.#running++;
    try {
      return await work();
    } finally {
      this.#running--;
    }
  }
}
