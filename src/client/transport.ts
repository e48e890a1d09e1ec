import { randomBytes } from "node:crypto";
import { type BackoffOptions, backoffDelayMs, type RandomSource } from "./backoff.js";
import { Deadline } from "./deadline.js";
import { EndpointPool } from "./endpoints.js";
import {
  AbortedError,
  BadResponseError,
  ClientClosedError,
  ClientError,
  errorFromServer,
  NotLeaderError,
  OutcomeUnknownError,
  UnavailableError,
} from "./errors.js";
import { type AttemptFailure, type CallKind, mayRetry } from "./retry-policy.js";

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
  readonly serverDedupesWrites: boolean;
}

export interface RequestSpec {
  readonly path: string;
  readonly body: unknown;
  readonly kind: CallKind;
  /** Ask only this endpoint: no failover, no redirect. */
  readonly endpoint?: string;
  /** Start with the endpoint after this one (a stream that just dropped there). */
  readonly avoid?: string;
}

/** An open streaming answer; `close()` releases the caller-signal link. */
export interface OpenStream {
  readonly endpoint: string;
  readonly response: Response;
  readonly signal: AbortSignal;
  close(): void;
}

/** Error codes of a request that never left: nothing reached any server. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** A key for one logical write, the same on each of its retries: 22 chars of [A-Za-z0-9_-]. */
export function newIdempotencyKey(): string {
  return randomBytes(16).toString("base64url");
}

interface Failed {
  readonly failure: AttemptFailure;
  readonly error: ClientError;
}

/**
 * Sends JSON calls to the cluster: picks the endpoint, follows NOT_LEADER
 * hints, retries what `mayRetry` allows with jittered backoff, all within
 * the call's deadline.
 */
export class HttpTransport {
  readonly pool: EndpointPool;
  private closed = false;

  constructor(private readonly options: TransportOptions) {
    this.pool = new EndpointPool(options.endpoints);
  }

  close(): void {
    this.closed = true;
  }

  /** The jittered wait before retry number `retry` (0-based). */
  retryDelayMs(retry: number): number {
    return backoffDelayMs(retry, this.options.random, this.options.backoff);
  }

  /** A JSON call; resolves to the parsed answer body. */
  async call(spec: RequestSpec, options: CallOptions = {}): Promise<unknown> {
    using deadline = this.deadline(options);
    // Awaited here so the deadline is disposed after the call, not when the promise is made.
    return await this.run(spec, deadline, async (response) => {
      const text = await response.text();
      return parseJson(text, response.status);
    });
  }

  /** A streaming call: resolves once a server answered 2xx, with the body unread. */
  async open(spec: RequestSpec, options: CallOptions = {}): Promise<OpenStream> {
    const deadline = this.deadline(options);
    try {
      const opened = await this.run(spec, deadline, async (response, endpoint) => ({
        response,
        endpoint,
      }));
      deadline.disarm();
      return { ...opened, signal: deadline.signal, close: () => deadline[Symbol.dispose]() };
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

  private async run<T>(
    spec: RequestSpec,
    deadline: Deadline,
    consume: (response: Response, endpoint: string) => Promise<T>,
  ): Promise<T> {
    const idempotencyKey = spec.kind === "read" ? undefined : newIdempotencyKey();
    let endpoint =
      spec.endpoint ?? (spec.avoid !== undefined ? this.pool.after(spec.avoid) : this.pool.first);
    let last: Failed | undefined;
    for (let retry = 0; ; retry++) {
      deadline.throwIfDone();
      const outcome = await this.attempt(endpoint, spec, deadline, idempotencyKey, consume);
      if (outcome.ok) {
        if (spec.kind !== "read") this.pool.markLeader(endpoint);
        return outcome.value;
      }
      last = outcome;
      if (spec.endpoint !== undefined) throw outcome.error;
      if (!mayRetry(spec.kind, outcome.failure, this.options.serverDedupesWrites)) {
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
      try {
        if (waitMs > 0) await deadline.sleep(Math.min(waitMs, deadline.remainingMs()));
      } catch (reason) {
        throw exhausted(reason, last);
      }
      endpoint = next;
    }
  }

  private async attempt<T>(
    endpoint: string,
    spec: RequestSpec,
    deadline: Deadline,
    idempotencyKey: string | undefined,
    consume: (response: Response, endpoint: string) => Promise<T>,
  ): Promise<({ ok: true; value: T } & Partial<Failed>) | ({ ok: false } & Failed)> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (idempotencyKey !== undefined) headers["idempotency-key"] = idempotencyKey;
    let response: Response;
    try {
      response = await fetch(`${endpoint}${spec.path}`, {
        method: "POST",
        headers,
        body: JSON.stringify(spec.body ?? {}),
        signal: deadline.signal,
      });
    } catch (error) {
      deadline.throwIfDone();
      const kind = NOT_SENT_CODES.has(causeCode(error)) ? "not-sent" : "lost";
      return {
        ok: false,
        failure: { kind },
        error: new UnavailableError(`${endpoint} did not answer: ${describe(error)}`, error),
      };
    }
    try {
      if (response.ok) return { ok: true, value: await consume(response, endpoint) };
      const text = await response.text();
      const error = errorFromServer(errorBody(text), response.status);
      return {
        ok: false,
        failure: { kind: "answered", status: response.status, code: error.code },
        error,
      };
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
function exhausted(reason: unknown, last: Failed | undefined): unknown {
  if (reason instanceof AbortedError) return reason;
  if (last === undefined || last.failure.kind === "answered") return last?.error ?? reason;
  return new UnavailableError(`no endpoint answered before the call ended`, last.error);
}

function parseJson(text: string, status: number): unknown {
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

function causeCode(error: unknown): string {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NOT_SENT_CODES.has(code)) return code;
    e = e.cause;
  }
  return "";
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}
