import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { type Credentials, TokenSource } from "./auth-token.js";
import { authenticateJson, authenticateResult } from "./auth-wire.js";
import { type BackoffOptions, backoffDelayMs, type RandomSource } from "./backoff.js";
import { Deadline } from "./deadline.js";
import { EndpointPool } from "./endpoints.js";
import {
  AbortedError,
  BadResponseError,
  ClientClosedError,
  ClientError,
  DeadlineExceededError,
  errorFromServer,
  InvalidAuthTokenError,
  NotLeaderError,
  OutcomeUnknownError,
  UnavailableError,
} from "./errors.js";
import { ClientAgents, type TlsOptions } from "./http-agents.js";
import { type Origin, parseOrigin, post, RequestFailedError, readBody } from "./http-request.js";
import { type AttemptFailure, type CallKind, mayRetry } from "./retry-policy.js";

/** Set by a member on an answer it relayed from the leader: the leader's client URL. */
const LEADER_URL_HEADER = "conclave-leader-url";

/** Every call takes these. */
export interface CallOptions {
  readonly signal?: AbortSignal;
  /** The whole call's budget, retries included; the client's `timeoutMs` when absent. */
  readonly timeoutMs?: number;
}

export interface TransportOptions {
  readonly endpoints: readonly string[];
  readonly timeoutMs: number;
  readonly random: RandomSource;
  readonly backoff: BackoffOptions;
  /** The largest JSON answer (or error body) accepted; a bigger one is a BadResponseError. */
  readonly maxResponseBytes: number;
  /** Who the calls are made as; anonymous when absent. */
  readonly credentials?: Credentials;
  readonly tls?: TlsOptions;
}

export interface RequestSpec {
  readonly path: string;
  readonly body: unknown;
  readonly kind: CallKind;
  /** Ask only this endpoint: no failover, no redirect. */
  readonly endpoint?: string;
  /** Start with the endpoint after this one (a stream that just dropped there). */
  readonly avoid?: string;
  /** Sent without a token even when the client has credentials: authentication itself. */
  readonly anonymous?: boolean;
}

/** An open streaming answer; `close()` ends its connection and releases the caller-signal link. */
export interface OpenStream {
  readonly endpoint: string;
  /** The answer body, as it arrives. */
  readonly body: AsyncIterable<Uint8Array>;
  readonly signal: AbortSignal;
  close(): void;
}

/**
 * How often one attempt may be sent again at once, on the same endpoint,
 * because a kept-alive socket turned out to be closed by the server: each
 * such failure costs the pool that socket, so a few tries reach a fresh one.
 */
const MAX_STALE_SOCKET_RETRIES = 4;

/** A key for one logical write, the same on each of its retries: 22 chars of [A-Za-z0-9_-]. */
export function newIdempotencyKey(): string {
  return randomBytes(16).toString("base64url");
}

interface Failed {
  readonly failure: AttemptFailure;
  readonly error: ClientError;
  /** The attempt died on a reused kept-alive socket before any answer byte. */
  readonly staleSocket?: boolean;
}

type Attempt<T> =
  | ({ ok: true; value: T; leaderUrl?: string } & Partial<Failed>)
  | ({ ok: false } & Failed);

/**
 * Sends JSON calls to the cluster: picks the endpoint, follows NOT_LEADER
 * hints, retries what `mayRetry` allows with jittered backoff, all within
 * the call's deadline.
 */
export class HttpTransport {
  readonly pool: EndpointPool;
  private readonly agents: ClientAgents;
  private readonly origins = new Map<string, Origin>();
  private readonly tokens: TokenSource | undefined;
  private closed = false;

  constructor(private readonly options: TransportOptions) {
    this.pool = new EndpointPool(options.endpoints);
    this.agents = new ClientAgents(options.tls);
    this.tokens =
      options.credentials === undefined
        ? undefined
        : new TokenSource(options.credentials, (username, password) =>
            this.authenticate(username, password),
          );
  }

  /**
   * Exchanges a name and password for a token. Repeating it only issues
   * another token, so it is retried like a read, within the client's timeout.
   */
  async authenticate(
    username: string,
    password: string,
    options: CallOptions = {},
  ): Promise<string> {
    const body = authenticateJson(username, password);
    const spec = { path: "/v3/auth/authenticate", body, kind: "read" as const, anonymous: true };
    return authenticateResult(await this.call(spec, options));
  }

  /** Later calls throw CLIENT_CLOSED; open requests and idle sockets are destroyed. */
  close(): void {
    this.closed = true;
    this.agents.destroy();
  }

  /** The jittered wait before retry number `retry` (0-based). */
  retryDelayMs(retry: number): number {
    return backoffDelayMs(retry, this.options.random, this.options.backoff);
  }

  /** A JSON call; resolves to the parsed answer body. */
  async call(spec: RequestSpec, options: CallOptions = {}): Promise<unknown> {
    using deadline = this.deadline(options);
    // Awaited here so the deadline is disposed after the call, not when the promise is made.
    return await this.run(spec, deadline, false, async (response) => {
      const body = await readBody(response, this.options.maxResponseBytes);
      return parseJson(body, response.statusCode ?? 0);
    });
  }

  /** A streaming call on a connection of its own: resolves once a server answered 2xx, body unread. */
  async open(spec: RequestSpec, options: CallOptions = {}): Promise<OpenStream> {
    const deadline = this.deadline(options);
    try {
      const opened = await this.run(spec, deadline, true, async (response, endpoint) => ({
        body: response,
        endpoint,
      }));
      deadline.disarm();
      return {
        ...opened,
        signal: deadline.signal,
        close: () => {
          opened.body.destroy();
          deadline[Symbol.dispose]();
        },
      };
    } catch (error) {
      deadline[Symbol.dispose]();
      throw error;
    }
  }

  private deadline(options: CallOptions): Deadline {
    if (this.closed) throw new ClientClosedError();
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new ClientError("INVALID_ARGUMENT", `timeoutMs must be positive, got ${timeoutMs}`);
    }
    return new Deadline(timeoutMs, options.signal);
  }

  private origin(endpoint: string): Origin {
    let origin = this.origins.get(endpoint);
    if (origin === undefined) {
      origin = parseOrigin(endpoint);
      this.origins.set(endpoint, origin);
    }
    return origin;
  }

  private async run<T>(
    spec: RequestSpec,
    deadline: Deadline,
    stream: boolean,
    consume: (response: IncomingMessage, endpoint: string) => Promise<T>,
  ): Promise<T> {
    const idempotencyKey = spec.kind === "read" ? undefined : newIdempotencyKey();
    // A stream holds its connection, and a call that must not be repeated must not
    // meet a socket the server closed while idle: both get a connection of their own.
    const ownConnection = stream || spec.kind === "write";
    const body = JSON.stringify(spec.body ?? {});
    let endpoint =
      spec.endpoint ?? (spec.avoid !== undefined ? this.pool.after(spec.avoid) : this.pool.first);
    let last: Failed | undefined;
    /** Each endpoint tried, with its last failure: what the caller is told if all fail. */
    const tried = new Map<string, string>();
    let staleRetries = 0;
    let reauthenticated = false;
    for (let retry = 0; ; ) {
      if (this.closed) throw new ClientClosedError();
      if (deadline.signal.aborted) throw exhausted(deadline.signal.reason, last, tried);
      const token = spec.anonymous === true ? undefined : await this.tokens?.token(deadline);
      let outcome: Attempt<T>;
      try {
        const attempt = { endpoint, body, idempotencyKey, ownConnection, token };
        outcome = await this.attempt(attempt, spec.path, deadline, consume);
      } catch (reason) {
        // A read cut off mid-attempt reports why the earlier attempts failed; a write
        // cut off mid-attempt may have been applied, so it stays DeadlineExceededError.
        const cutOff =
          reason instanceof DeadlineExceededError &&
          (spec.kind === "read" || spec.kind === "idempotent");
        if (cutOff) tried.set(endpoint, "no answer before the deadline");
        throw cutOff ? exhausted(reason, last, tried) : reason;
      }
      if (outcome.ok) {
        // A member that relayed the call to the leader names it: go there next time.
        const leader =
          outcome.leaderUrl === undefined ? undefined : this.pool.known(outcome.leaderUrl);
        if (leader !== undefined) this.pool.markLeader(leader);
        else if (spec.kind !== "read") this.pool.markLeader(endpoint);
        return outcome.value;
      }
      last = outcome;
      tried.set(endpoint, outcome.error.message);
      if (this.closed) throw new ClientClosedError();
      // The server refused the token before doing anything: authenticate again, once,
      // and send the call again at once (a write included: it was not applied).
      if (
        token !== undefined &&
        !reauthenticated &&
        outcome.error instanceof InvalidAuthTokenError &&
        this.tokens?.refused(token) === true
      ) {
        reauthenticated = true;
        continue;
      }
      // A kept-alive socket the server had closed: send again at once on the same
      // endpoint (the pool just lost that socket), if the call is safe to repeat.
      if (
        outcome.staleSocket === true &&
        staleRetries < MAX_STALE_SOCKET_RETRIES &&
        mayRetry(spec.kind, outcome.failure)
      ) {
        staleRetries++;
        continue;
      }
      if (spec.endpoint !== undefined) throw outcome.error;
      if (!mayRetry(spec.kind, outcome.failure)) {
        if (outcome.failure.kind === "lost" && spec.kind === "write") {
          throw new OutcomeUnknownError(
            `the connection to ${endpoint} was lost after the write was sent; it may or may not have taken effect`,
            undefined,
            outcome.error,
          );
        }
        throw outcome.error;
      }
      const hint =
        outcome.error instanceof NotLeaderError
          ? this.pool.leaderHint(outcome.error.leaderUrl)
          : undefined;
      // A fresh leader hint is worth trying at once; anything else waits its backoff.
      const next = hint !== undefined && hint !== endpoint ? hint : this.pool.after(endpoint);
      const waitMs = next === hint ? 0 : this.retryDelayMs(retry);
      // No point waiting past the deadline: the call ends now with why it failed.
      if (waitMs >= deadline.remainingMs()) {
        throw exhausted(new DeadlineExceededError(deadline.timeoutMs), last, tried);
      }
      try {
        if (waitMs > 0) await deadline.sleep(waitMs);
      } catch (reason) {
        throw exhausted(reason, last, tried);
      }
      endpoint = next;
      retry++;
    }
  }

  private async attempt<T>(
    attempt: {
      endpoint: string;
      body: string;
      idempotencyKey: string | undefined;
      ownConnection: boolean;
      token: string | undefined;
    },
    path: string,
    deadline: Deadline,
    consume: (response: IncomingMessage, endpoint: string) => Promise<T>,
  ): Promise<Attempt<T>> {
    const { endpoint } = attempt;
    const origin = this.origin(endpoint);
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (attempt.idempotencyKey !== undefined) headers["idempotency-key"] = attempt.idempotencyKey;
    if (attempt.token !== undefined) headers["authorization"] = attempt.token;
    let response: IncomingMessage;
    try {
      response = await post({
        origin,
        path,
        agent: attempt.ownConnection ? this.agents.unpooled(origin) : this.agents.pooled(origin),
        headers,
        body: attempt.body,
        signal: deadline.signal,
      });
    } catch (error) {
      deadline.throwIfDone();
      const failed = error instanceof RequestFailedError ? error : undefined;
      return {
        ok: false,
        failure: { kind: failed?.notSent === true ? "not-sent" : "lost" },
        error: new UnavailableError(`${endpoint} did not answer: ${describe(error)}`, error),
        staleSocket: failed?.staleSocket === true,
      };
    }
    const status = response.statusCode ?? 0;
    try {
      if (status >= 200 && status < 300) {
        const value = await consume(response, endpoint);
        const leaderUrl = response.headers[LEADER_URL_HEADER];
        return typeof leaderUrl === "string" ? { ok: true, value, leaderUrl } : { ok: true, value };
      }
      const text = (await readBody(response, this.options.maxResponseBytes)).toString("utf8");
      const retryAfter = response.headers["retry-after"];
      const error = errorFromServer(errorBody(text), status, retryAfter);
      return { ok: false, failure: { kind: "answered", status, code: error.code }, error };
    } catch (error) {
      deadline.throwIfDone();
      if (error instanceof ClientError) throw error;
      return {
        ok: false,
        failure: { kind: "lost" },
        error: new UnavailableError(`${endpoint} dropped the answer: ${describe(error)}`, error),
      };
    }
  }
}

/** What to throw when the deadline ends a wait between attempts: why the attempts failed. */
function exhausted(
  reason: unknown,
  last: Failed | undefined,
  tried: ReadonlyMap<string, string>,
): unknown {
  if (reason instanceof AbortedError) return reason;
  if (last === undefined || last.failure.kind === "answered") return last?.error ?? reason;
  return new UnavailableError(
    `no endpoint answered before the call ended; tried ${describeTried(tried)}`,
    last.error,
  );
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

function parseJson(body: Buffer, status: number): unknown {
  const text = body.toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BadResponseError(`the answer is not JSON: ${text.slice(0, 100)}`, status);
  }
}

function errorBody(text: string): object {
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
