/**
 * One attempt of a JSON call on one endpoint, and the bookkeeping of a
 * call's attempts that both the cluster client's transport and the sharded
 * client run their retry loops on: why each endpoint failed, when to send
 * again at once, what to throw when the call ends.
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { TokenSource } from "./auth-token.js";
import type { Deadline } from "./deadline.js";
import {
  AbortedError,
  BadResponseError,
  ClientError,
  DeadlineExceededError,
  InvalidAuthTokenError,
  OutcomeUnknownError,
  UnavailableError,
} from "./errors.js";
import type { ClientAgents } from "./http-agents.js";
import { RequestFailedError, readBody, send } from "./http-request.js";
import { type AttemptFailure, type CallKind, mayRetry } from "./retry-policy.js";

export interface AttemptSpec<T> {
  readonly endpoint: string;
  /** Default POST. */
  readonly method?: "GET" | "POST";
  readonly path: string;
  /** JSON text, or a raw value's bytes (sent as application/octet-stream); POST only. */
  readonly body?: string | Uint8Array;
  readonly idempotencyKey: string | undefined;
  readonly token: string | undefined;
  /** A connection of its own, closed after: for a stream, or a call that must not meet a stale socket. */
  readonly ownConnection: boolean;
  readonly deadline: Deadline;
  /** The largest error body accepted; a bigger one is a BadResponseError. */
  readonly maxResponseBytes: number;
  /** The error an error answer stands for. */
  readonly errorFromServer: (body: object, status: number, retryAfter?: string) => ClientError;
  /** Reads a 2xx answer; a ClientError it throws ends the call. */
  readonly consume: (response: IncomingMessage, endpoint: string) => Promise<T>;
}

export interface FailedAttempt {
  readonly failure: AttemptFailure;
  readonly error: ClientError;
  /** The attempt died on a reused kept-alive socket before any answer byte. */
  readonly staleSocket?: boolean;
}

export type AttemptOutcome<T> =
  | { readonly ok: true; readonly value: T; readonly headers: IncomingHttpHeaders }
  | ({ readonly ok: false } & FailedAttempt);

/**
 * Sends one attempt; resolves with its outcome, rejects only when the
 * deadline or the caller ends it, or the answer is unusable (a ClientError).
 */
export async function sendAttempt<T>(
  agents: ClientAgents,
  spec: AttemptSpec<T>,
): Promise<AttemptOutcome<T>> {
  const { endpoint, deadline } = spec;
  const method = spec.method ?? "POST";
  const origin = agents.origin(endpoint);
  const headers: Record<string, string> = {};
  if (method === "POST") {
    headers["content-type"] =
      spec.body instanceof Uint8Array ? "application/octet-stream" : "application/json";
  }
  if (spec.idempotencyKey !== undefined) headers["idempotency-key"] = spec.idempotencyKey;
  if (spec.token !== undefined) headers["authorization"] = spec.token;
  let response: IncomingMessage;
  try {
    response = await send({
      origin,
      path: spec.path,
      agent: spec.ownConnection ? agents.unpooled(origin) : agents.pooled(origin),
      headers,
      method,
      ...(spec.body !== undefined && { body: spec.body }),
      signal: deadline.signal,
    });
  } catch (error) {
    deadline.throwIfDone();
    return notAnswered(endpoint, error);
  }
  const status = response.statusCode ?? 0;
  try {
    if (status >= 200 && status < 300) {
      const value = await spec.consume(response, endpoint);
      return { ok: true, value, headers: response.headers };
    }
    const text = (await readBody(response, spec.maxResponseBytes)).toString("utf8");
    const retryAfter = response.headers["retry-after"];
    return errorAnswered(spec.errorFromServer, errorBody(text), status, retryAfter);
  } catch (error) {
    deadline.throwIfDone();
    if (error instanceof ClientError) throw error;
    return answerLost(endpoint, error);
  }
}

/** An attempt that got no answer head: never sent, or sent and lost. */
export function notAnswered(endpoint: string, error: unknown): FailedAttempt & { ok: false } {
  const failed = error instanceof RequestFailedError ? error : undefined;
  return {
    ok: false,
    failure: { kind: failed?.notSent === true ? "not-sent" : "lost" },
    error: new UnavailableError(`${endpoint} did not answer: ${describe(error)}`, error),
    staleSocket: failed?.staleSocket === true,
  };
}

/** An attempt whose answer was cut off midway. */
export function answerLost(endpoint: string, error: unknown): FailedAttempt & { ok: false } {
  return {
    ok: false,
    failure: { kind: "lost" },
    error: new UnavailableError(`${endpoint} dropped the answer: ${describe(error)}`, error),
  };
}

/** An attempt a server answered with an error status and body. */
export function errorAnswered(
  errorFromServer: AttemptSpec<unknown>["errorFromServer"],
  body: object,
  status: number,
  retryAfter?: string,
): FailedAttempt & { ok: false } {
  const error = errorFromServer(body, status, retryAfter);
  return { ok: false, failure: { kind: "answered", status, code: error.code }, error };
}

/** Reads a whole answer of at most `maxBytes` and parses it as JSON. */
export async function readJson(response: IncomingMessage, maxBytes: number): Promise<unknown> {
  const text = (await readBody(response, maxBytes)).toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BadResponseError(
      `the answer is not JSON: ${text.slice(0, 100)}`,
      response.statusCode ?? 0,
    );
  }
}

/**
 * How often one attempt may be sent again at once, on the same endpoint,
 * because a kept-alive socket turned out to be closed by the server: each
 * such failure costs the pool that socket, so a few tries reach a fresh one.
 */
const MAX_STALE_SOCKET_RETRIES = 4;

/**
 * One call's attempts so far: each endpoint tried with its last failure, and
 * the rules every retry loop applies between attempts.
 */
export class CallAttempts {
  /** Each endpoint tried, with its last failure: what the caller is told if all fail. */
  readonly tried = new Map<string, string>();
  last: FailedAttempt | undefined;
  private staleRetries = 0;
  private reauthenticated = false;

  constructor(
    private readonly kind: CallKind,
    private readonly tokens: TokenSource | undefined,
    /** Sent without a token: authentication itself. */
    private readonly anonymous: boolean,
  ) {}

  /** The token the next attempt is sent with, if any. */
  async token(deadline: Deadline): Promise<string | undefined> {
    return this.anonymous ? undefined : await this.tokens?.token(deadline);
  }

  /** Throws why the attempts failed once the deadline or the caller ended the call. */
  throwIfDone(deadline: Deadline): void {
    if (deadline.signal.aborted) throw this.exhausted(deadline.signal.reason);
  }

  /** What to throw when `reason` (the deadline, the caller, an unusable answer) cut off an attempt. */
  cutOff(reason: unknown, endpoint: string): unknown {
    // A read cut off mid-attempt reports why the earlier attempts failed; a write
    // cut off mid-attempt may have been applied, so it stays DeadlineExceededError.
    const cutOff =
      reason instanceof DeadlineExceededError &&
      (this.kind === "read" || this.kind === "idempotent");
    if (cutOff) this.tried.set(endpoint, "no answer before the deadline");
    return cutOff ? this.exhausted(reason) : reason;
  }

  failed(endpoint: string, outcome: FailedAttempt): void {
    this.last = outcome;
    this.tried.set(endpoint, outcome.error.message);
  }

  /**
   * Whether to send the call again at once to the same endpoint: the server
   * refused the token before doing anything (authenticate again, once; a
   * write included, it was not applied), or a kept-alive socket the server
   * had closed (the pool just lost it), if the call is safe to repeat.
   */
  againAtOnce(outcome: FailedAttempt, token: string | undefined): boolean {
    if (
      token !== undefined &&
      !this.reauthenticated &&
      outcome.error instanceof InvalidAuthTokenError &&
      this.tokens?.refused(token) === true
    ) {
      this.reauthenticated = true;
      return true;
    }
    if (
      outcome.staleSocket === true &&
      this.staleRetries < MAX_STALE_SOCKET_RETRIES &&
      mayRetry(this.kind, outcome.failure)
    ) {
      this.staleRetries++;
      return true;
    }
    return false;
  }

  /** Throws the failure unless `mayRetry` allows another attempt. */
  throwUnlessRetryable(outcome: FailedAttempt, endpoint: string): void {
    if (mayRetry(this.kind, outcome.failure)) return;
    if (outcome.failure.kind === "lost" && this.kind === "write") {
      throw new OutcomeUnknownError(
        `the connection to ${endpoint} was lost after the write was sent; it may or may not have taken effect`,
        undefined,
        outcome.error,
      );
    }
    throw outcome.error;
  }

  /** Waits `ms` before the next attempt; throws why the attempts failed if the call ends first. */
  async wait(deadline: Deadline, ms: number): Promise<void> {
    // No point waiting past the deadline: the call ends now with why it failed.
    if (ms >= deadline.remainingMs()) {
      throw this.exhausted(new DeadlineExceededError(deadline.timeoutMs));
    }
    try {
      if (ms > 0) await deadline.sleep(ms);
    } catch (reason) {
      throw this.exhausted(reason);
    }
  }

  /** What to throw when `reason` ended the call between attempts: why the attempts failed. */
  exhausted(reason: unknown): unknown {
    const { last } = this;
    if (reason instanceof AbortedError) return reason;
    if (last === undefined || last.failure.kind === "answered") return last?.error ?? reason;
    return new UnavailableError(
      `no endpoint answered before the call ended; tried ${describeTried(this.tried)}`,
      last.error,
    );
  }
}

/** Most endpoints named in an UnavailableError; the rest are counted. */
const MAX_ENDPOINTS_NAMED = 5;
/** Longest failure text per endpoint in an UnavailableError. */
const MAX_FAILURE_CHARS = 160;

/** "URL (why); URL (why); and N more", each failure cut to a bounded length. */
export function describeTried(tried: ReadonlyMap<string, string>): string {
  const parts = [...tried].slice(0, MAX_ENDPOINTS_NAMED).map(([endpoint, failure]) => {
    // Attempt errors start with their endpoint; it is named once, in front.
    const why = failure.startsWith(`${endpoint} `) ? failure.slice(endpoint.length + 1) : failure;
    const cut = why.length > MAX_FAILURE_CHARS ? `${why.slice(0, MAX_FAILURE_CHARS - 1)}…` : why;
    return `${endpoint} (${cut})`;
  });
  const more = tried.size - parts.length;
  return more > 0 ? `${parts.join("; ")}; and ${more} more` : parts.join("; ");
}

/** An error answer's body as an object; text that is not a JSON object becomes its message. */
export function errorBody(text: string): object {
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === "object" && parsed !== null ? parsed : {};
  } catch {
    return { message: text.slice(0, 200) };
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // Node's request errors often repeat their cause's message: say it once.
  const cause =
    error.cause instanceof Error && !error.message.includes(error.cause.message)
      ? `: ${error.cause.message}`
      : "";
  return `${error.message}${cause}`;
}
