import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { InvalidArgumentError } from "../errors.js";
import type { KvResult } from "../kv/index.js";
import { NotLeaderError, Role } from "../raft/core/index.js";
import type { RaftNode } from "../raft/node/index.js";
import { HttpApiError } from "./errors.js";
import { FORWARDED_BY_HEADER, type ForwardSigner, forwardCredentials } from "./forward-identity.js";
import { IDEMPOTENCY_HEADER } from "./kv-access.js";
import {
  ForwardOutcomeUnknownError,
  type LeaderAnswer,
  type LeaderClient,
  LeaderNotReachedError,
} from "./leader-client.js";

/** Requests one member forwards to the leader at once, unless configured otherwise. */
export const DEFAULT_MAX_LEADER_FORWARDS = 1024;

/** What became of a request that failed NOT_LEADER here (the metric's `outcome` label). */
export type ForwardOutcome =
  /** The leader answered; its answer went back to the client, whatever it was. */
  | "relayed"
  /** Too many forwards were in flight: 503 TOO_MANY_FORWARDS. */
  | "busy"
  /** No connection to the leader: the client got NOT_LEADER, nothing was sent. */
  | "not_reached"
  /** Sent, but no whole answer came back: OUTCOME_UNKNOWN. */
  | "unknown"
  /** The caller's identity cannot be shown to the leader: the client got NOT_LEADER. */
  | "no_credentials"
  /** The leader's client URL is not known: the client got NOT_LEADER. */
  | "no_leader_url";

/** This member is forwarding as many requests as it may; the client can retry shortly. */
export class TooManyForwardsError extends HttpApiError {
  constructor(limit: number) {
    super(503, "TOO_MANY_FORWARDS", `this member is already forwarding ${limit} requests`);
  }
}

/** The leader's client URL, on an answer a follower relayed from it. */
export const LEADER_URL_HEADER = "conclave-leader-url";

/** The leader's answer and where it came from. */
export interface RelayedAnswer extends LeaderAnswer {
  readonly leaderUrl: string;
}

declare module "fastify" {
  interface FastifyRequest {
    /**
     * The term this member was a follower in when the request arrived; unset
     * when it led then, or when the request was itself forwarded.
     */
    followerTerm?: number;
  }
}

export interface LeaderForwarderOptions {
  readonly node: Pick<RaftNode<KvResult>, "basicStatus">;
  readonly leaderUrls: { get(id: number): string | undefined };
  readonly client: Pick<LeaderClient, "send">;
  readonly signer: ForwardSigner;
  readonly timeoutMs: number;
  /** 0 turns forwarding off: followers answer NOT_LEADER. */
  readonly maxInFlight: number;
  readonly onOutcome: (outcome: ForwardOutcome) => void;
}

/**
 * Lets a follower serve what only the leader can: a request that failed
 * NOT_LEADER here is sent on to the leader and the leader's answer relayed.
 *
 * Only a request nothing of which was proposed is sent again, or a write
 * could apply twice. A member that was a follower in the same term from the
 * request's arrival to its failure never led in between (leading takes a new
 * term), so nothing the request did could have entered the log: a follower
 * cannot append. Anything else keeps the NOT_LEADER answer and its leader URL,
 * which clients follow themselves. A forwarded request is never forwarded
 * again, so a stale view of the leader cannot send a request in circles.
 */
export class LeaderForwarder {
  readonly #o: LeaderForwarderOptions;
  #inFlight = 0;

  constructor(options: LeaderForwarderOptions) {
    this.#o = options;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Remembers whether `req` may be forwarded should it fail NOT_LEADER. */
  noteArrival(req: FastifyRequest): void {
    if (this.#o.maxInFlight === 0 || req.headers[FORWARDED_BY_HEADER] !== undefined) return;
    const st = this.#o.node.basicStatus();
    if (st.role !== Role.Leader) req.followerTerm = st.term;
  }

  /**
   * The leader's answer to `req` when `err` lets it be forwarded there;
   * undefined when this member should answer `err` itself. Throws
   * TooManyForwardsError or ForwardOutcomeUnknownError.
   */
  async tryForward(err: unknown, req: FastifyRequest): Promise<RelayedAnswer | undefined> {
    if (!(err instanceof NotLeaderError) || req.followerTerm === undefined) return undefined;
    const st = this.#o.node.basicStatus();
    const leader = err.leaderHint;
    if (st.role === Role.Leader || st.term !== req.followerTerm || leader === 0) return undefined;
    const baseUrl = this.#o.leaderUrls.get(leader);
    if (baseUrl === undefined) return this.#skip("no_leader_url");
    if (this.#inFlight >= this.#o.maxInFlight) {
      this.#o.onOutcome("busy");
      throw new TooManyForwardsError(this.#o.maxInFlight);
    }
    this.#inFlight++;
    try {
      const credentials = await forwardCredentials(req, this.#o.signer);
      if (credentials === undefined) return this.#skip("no_credentials");
      const headers: Record<string, string> = {
        ...credentials,
        [FORWARDED_BY_HEADER]: String(this.#o.signer.selfId),
      };
      const key = req.headers[IDEMPOTENCY_HEADER];
      if (typeof key === "string") headers[IDEMPOTENCY_HEADER] = key;
      const answer = await this.#o.client.send({
        baseUrl,
        method: req.method,
        path: req.url,
        headers,
        body: forwardedBody(req.body),
        timeoutMs: this.#o.timeoutMs,
      });
      this.#o.onOutcome("relayed");
      return { ...answer, leaderUrl: baseUrl };
    } catch (failure) {
      if (failure instanceof LeaderNotReachedError) return this.#skip("not_reached");
      if (failure instanceof ForwardOutcomeUnknownError) this.#o.onOutcome("unknown");
      throw failure;
    } finally {
      this.#inFlight--;
    }
  }

  #skip(outcome: ForwardOutcome): undefined {
    this.#o.onOutcome(outcome);
    return undefined;
  }
}

/** A raw value (/v3/kv/value) goes on as its bytes, any other body as JSON. */
function forwardedBody(body: unknown): string | Uint8Array | undefined {
  return body === undefined || body instanceof Uint8Array ? body : JSON.stringify(body);
}

/** Sends the leader's answer to the client as it came. */
export function relayAnswer(reply: FastifyReply, answer: RelayedAnswer): FastifyReply {
  if (answer.contentType !== undefined) void reply.header("content-type", answer.contentType);
  // Tells the client where the leader is, so its next request can go there
  // directly rather than through this member (see the SDK's EndpointPool).
  void reply.header(LEADER_URL_HEADER, answer.leaderUrl);
  return reply.status(answer.status).send(answer.body);
}

/** Notes each request's arrival for `forwarder`, and closes its connections with the server. */
export function addLeaderForwarding(
  app: FastifyInstance,
  forwarder: LeaderForwarder,
  client: LeaderClient,
): void {
  app.decorateRequest("followerTerm", undefined);
  app.addHook("onRequest", (req, _reply, done) => {
    forwarder.noteArrival(req);
    done();
  });
  app.addHook("onClose", async () => client.close());
}

/** The maxLeaderForwards server option, checked. */
export function resolveMaxLeaderForwards(value: number | undefined): number {
  const max = value ?? DEFAULT_MAX_LEADER_FORWARDS;
  if (!Number.isSafeInteger(max) || max < 0) {
    throw new InvalidArgumentError(
      `server option maxLeaderForwards must be a non-negative integer, got ${max}`,
    );
  }
  return max;
}
