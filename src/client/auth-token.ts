import { decodeJwt } from "jose";
import type { Deadline } from "./deadline.js";
import { AuthFailedError, ClientError, TooManyAuthRequestsError } from "./errors.js";

/** How the client proves who it is: a user's password, or a token obtained elsewhere. */
export type Credentials =
  | { readonly kind: "password"; readonly username: string; readonly password: string }
  | { readonly kind: "token"; readonly token: string };

/** Exchanges a name and password for a token (POST /v3/auth/authenticate). */
export type Authenticate = (username: string, password: string) => Promise<string>;

/**
 * A token is exchanged for a fresh one once this share of its life has
 * passed, so calls never carry one that is about to expire on its way.
 */
export const REFRESH_AT_LIFE_FRACTION = 0.8;

interface HeldToken {
  readonly value: string;
  /** From then on the next call authenticates anew (the token still works meanwhile). */
  readonly refreshAtMs: number;
  /** After then the token is useless: a failed refresh can no longer fall back on it. */
  readonly expiresAtMs: number;
}

/**
 * Checks the credentials a caller passed in ClientOptions: a username with a
 * password, or a token, or neither.
 */
export function credentialsFrom(options: {
  readonly username?: unknown;
  readonly password?: unknown;
  readonly token?: unknown;
}): Credentials | undefined {
  const { username, password, token } = options;
  if (token !== undefined) {
    if (username !== undefined || password !== undefined) {
      throw new ClientError(
        "INVALID_ARGUMENT",
        "pass either token or username and password, not both",
      );
    }
    if (typeof token !== "string" || token === "") {
      throw new ClientError("INVALID_ARGUMENT", "token must be a non-empty string");
    }
    return { kind: "token", token };
  }
  if (username === undefined && password === undefined) return undefined;
  if (typeof username !== "string" || username === "") {
    throw new ClientError("INVALID_ARGUMENT", "a password needs a non-empty username");
  }
  if (typeof password !== "string" || password === "") {
    throw new ClientError(
      "INVALID_ARGUMENT",
      `username ${JSON.stringify(username)} needs a password`,
    );
  }
  return { kind: "password", username, password };
}

/**
 * When a token should be refreshed and when it expires, in this process's
 * clock. Its life is read from the JWT's unverified `exp` (and `iat` when
 * present, which keeps a skewed clock out of it): the client only schedules
 * by it, the server is the one that checks. A token that is not a JWT, or
 * carries no `exp`, is kept until the server refuses it.
 */
export function tokenSchedule(token: string, obtainedAtMs: number): Omit<HeldToken, "value"> {
  let exp: unknown;
  let iat: unknown;
  try {
    ({ exp, iat } = decodeJwt(token));
  } catch {
    return { refreshAtMs: Number.POSITIVE_INFINITY, expiresAtMs: Number.POSITIVE_INFINITY };
  }
  if (typeof exp !== "number" || !Number.isFinite(exp)) {
    return { refreshAtMs: Number.POSITIVE_INFINITY, expiresAtMs: Number.POSITIVE_INFINITY };
  }
  const lifeMs =
    typeof iat === "number" && Number.isFinite(iat)
      ? (exp - iat) * 1000
      : exp * 1000 - obtainedAtMs;
  return {
    refreshAtMs: obtainedAtMs + Math.max(0, lifeMs) * REFRESH_AT_LIFE_FRACTION,
    expiresAtMs: obtainedAtMs + Math.max(0, lifeMs),
  };
}

/**
 * The token every call carries. With a password it authenticates lazily, on
 * the first call, refreshes once the token is due, and forgets a token the
 * server refused so the next attempt authenticates again. Calls that need a
 * token at the same time share one authentication.
 */
export class TokenSource {
  private held: HeldToken | undefined;
  private pending: Promise<HeldToken> | undefined;
  /** Until then the server asked not to be sent another authentication. */
  private notBeforeMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly credentials: Credentials,
    private readonly authenticate: Authenticate,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Whether a refused token can be replaced by authenticating again. */
  get renewable(): boolean {
    return this.credentials.kind === "password";
  }

  /** The token for a call within `deadline`; authenticates first when none is held or it is due. */
  async token(deadline: Deadline): Promise<string> {
    if (this.credentials.kind === "token") return this.credentials.token;
    const held = this.held;
    if (held !== undefined && this.nowMs() < held.refreshAtMs) return held.value;
    try {
      return (await untilAborted(this.refresh(this.credentials), deadline.signal)).value;
    } catch (error) {
      // A refresh that failed for want of a server: the held token still works until it expires.
      const usable =
        held !== undefined &&
        this.nowMs() < held.expiresAtMs &&
        !deadline.signal.aborted &&
        !(error instanceof AuthFailedError);
      if (usable && this.held === held) return held.value;
      throw error;
    }
  }

  /** The server refused `token`: the next call authenticates again. Whether that can help. */
  refused(token: string): boolean {
    if (!this.renewable) return false;
    if (this.held?.value === token) this.held = undefined;
    return true;
  }

  private refresh(credentials: Credentials & { kind: "password" }): Promise<HeldToken> {
    // Every call of a busy client would otherwise send an authentication the server refuses.
    const waitMs = this.notBeforeMs - this.nowMs();
    if (this.pending === undefined && waitMs > 0) {
      return Promise.reject(
        new TooManyAuthRequestsError(
          `the server refused authentications from this client for now; retry in ${Math.ceil(waitMs / 1000)} s`,
          undefined,
          waitMs,
        ),
      );
    }
    this.pending ??= (async () => {
      try {
        const obtainedAtMs = this.nowMs();
        const value = await this.authenticate(credentials.username, credentials.password);
        const held = { value, ...tokenSchedule(value, obtainedAtMs) };
        this.held = held;
        return held;
      } catch (error) {
        if (error instanceof TooManyAuthRequestsError && error.retryAfterMs !== undefined) {
          this.notBeforeMs = this.nowMs() + error.retryAfterMs;
        }
        throw error;
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }
}

/** `promise`, or the signal's reason once it aborts first (the promise runs on for others). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
