import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import {
  type AttemptOutcome,
  type AttemptSpec,
  CallAttempts,
  readJson,
  sendAttempt,
} from "./attempt.js";
import { type Credentials, TokenSource } from "./auth-token.js";
import { authenticateJson, authenticateResult } from "./auth-wire.js";
import { type BackoffOptions, backoffDelayMs, type RandomSource } from "./backoff.js";
import { type BatchOpName, CallBatcher } from "./call-batcher.js";
import { callDeadline, type Deadline } from "./deadline.js";
import { EndpointPool } from "./endpoints.js";
import { ClientClosedError, errorFromServer, NotLeaderError } from "./errors.js";
import { ClientAgents, type TlsOptions } from "./http-agents.js";
import type { CallKind } from "./retry-policy.js";

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
  /** Requests out to one endpoint before key-space calls wait to share one (0: never). */
  readonly batchInFlight: number;
}

export interface RequestSpec {
  readonly path: string;
  /** Sent as JSON, unless `bytes` are given. */
  readonly body: unknown;
  /** Sent as they are (application/octet-stream) instead of a JSON body. */
  readonly bytes?: Uint8Array;
  readonly kind: CallKind;
  /** Ask only this endpoint: no failover, no redirect. */
  readonly endpoint?: string;
  /** Start with the endpoint after this one (a stream that just dropped there). */
  readonly avoid?: string;
  /** Sent without a token even when the client has credentials: authentication itself. */
  readonly anonymous?: boolean;
  /** A key-space call that may share a request with others (CallBatcher), named as in a batch. */
  readonly batchAs?: BatchOpName;
}

/** An open streaming answer; `close()` ends its connection and releases the caller-signal link. */
export interface OpenStream {
  readonly endpoint: string;
  /** The answer body, as it arrives. */
  readonly body: AsyncIterable<Uint8Array>;
  readonly signal: AbortSignal;
  close(): void;
}

/** A key for one logical write, the same on each of its retries: 22 chars of [A-Za-z0-9_-]. */
export function newIdempotencyKey(): string {
  return randomBytes(16).toString("base64url");
}

/**
 * Sends JSON calls to the cluster: picks the endpoint, follows NOT_LEADER
 * hints, retries what `mayRetry` allows with jittered backoff, all within
 * the call's deadline.
 */
export class HttpTransport {
  readonly pool: EndpointPool;
  private readonly agents: ClientAgents;
  private readonly tokens: TokenSource | undefined;
  private readonly batcher: CallBatcher | undefined;
  private closed = false;

  constructor(private readonly options: TransportOptions) {
    this.pool = new EndpointPool(options.endpoints);
    this.agents = new ClientAgents(options.tls);
    this.batcher =
      options.batchInFlight > 0 ? new CallBatcher(this.agents, options.batchInFlight) : undefined;
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
    this.batcher?.close();
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
    return await this.callWithin(spec, deadline);
  }

  /**
   * `spec`, or, when a member refuses it as `refused` tells (refused before
   * anything ran: an older server without the route), `fallback()` instead;
   * both within the one deadline of the call.
   */
  async callOr(
    spec: RequestSpec,
    fallback: () => RequestSpec,
    refused: (error: unknown) => boolean,
    options: CallOptions = {},
  ): Promise<unknown> {
    using deadline = this.deadline(options);
    try {
      return await this.callWithin(spec, deadline);
    } catch (error) {
      if (!refused(error)) throw error;
    }
    return await this.callWithin(fallback(), deadline);
  }

  private callWithin(spec: RequestSpec, deadline: Deadline): Promise<unknown> {
    const { batcher } = this;
    const { batchAs } = spec;
    const attempt =
      batcher !== undefined && batchAs !== undefined
        ? (a: AttemptSpec<unknown>) => batcher.send(batchAs, a)
        : undefined;
    return this.run(
      spec,
      deadline,
      false,
      (response) => readJson(response, this.options.maxResponseBytes),
      attempt,
    );
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
    return callDeadline(options, this.options.timeoutMs, this.closed);
  }

  private async run<T>(
    spec: RequestSpec,
    deadline: Deadline,
    stream: boolean,
    consume: (response: IncomingMessage, endpoint: string) => Promise<T>,
    /** How an attempt is sent; alone on its own request unless given. */
    attempt: (spec: AttemptSpec<T>) => Promise<AttemptOutcome<T>> = (a) =>
      sendAttempt(this.agents, a),
  ): Promise<T> {
    const idempotencyKey = spec.kind === "read" ? undefined : newIdempotencyKey();
    // A stream holds its connection, and a call that must not be repeated must not
    // meet a socket the server closed while idle: both get a connection of their own.
    const ownConnection = stream || spec.kind === "write";
    const body = spec.bytes ?? JSON.stringify(spec.body ?? {});
    let endpoint =
      spec.endpoint ?? (spec.avoid !== undefined ? this.pool.after(spec.avoid) : this.pool.first);
    const attempts = new CallAttempts(spec.kind, this.tokens, spec.anonymous === true);
    for (let retry = 0; ; ) {
      if (this.closed) throw new ClientClosedError();
      attempts.throwIfDone(deadline);
      const token = await attempts.token(deadline);
      let outcome: AttemptOutcome<T>;
      try {
        outcome = await attempt({
          endpoint,
          path: spec.path,
          body,
          idempotencyKey,
          token,
          ownConnection,
          deadline,
          maxResponseBytes: this.options.maxResponseBytes,
          errorFromServer,
          consume,
        });
      } catch (reason) {
        throw attempts.cutOff(reason, endpoint);
      }
      if (outcome.ok) {
        // A member that relayed the call to the leader names it: go there next time.
        const leaderUrl = outcome.headers[LEADER_URL_HEADER];
        const leader = typeof leaderUrl === "string" ? this.pool.known(leaderUrl) : undefined;
        if (leader !== undefined) this.pool.markLeader(leader);
        else if (spec.kind !== "read") this.pool.markLeader(endpoint);
        return outcome.value;
      }
      attempts.failed(endpoint, outcome);
      if (this.closed) throw new ClientClosedError();
      if (attempts.againAtOnce(outcome, token)) continue;
      if (spec.endpoint !== undefined) throw outcome.error;
      attempts.throwUnlessRetryable(outcome, endpoint);
      const hint =
        outcome.error instanceof NotLeaderError
          ? this.pool.leaderHint(outcome.error.leaderUrl)
          : undefined;
      // A fresh leader hint is worth trying at once; anything else waits its backoff.
      const next = hint !== undefined && hint !== endpoint ? hint : this.pool.after(endpoint);
      await attempts.wait(deadline, next === hint ? 0 : this.retryDelayMs(retry));
      endpoint = next;
      retry++;
    }
  }
}
