/**
 * One attempt of a shard call on one endpoint, on the SDK's own plumbing:
 * its agents, its POST helper and body reader, its error classes. The map
 * and the controller's status are GET routes, which the SDK's POST helper
 * does not send; `get` below is its GET twin (no body, same abort and
 * failure handling).
 */
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { Deadline } from "../deadline.js";
import { BadResponseError, type ClientError, UnavailableError } from "../errors.js";
import type { ClientAgents } from "../http-agents.js";
import { type Origin, post, RequestFailedError, readBody } from "../http-request.js";
import type { AttemptFailure } from "../retry-policy.js";
import { shardErrorFromServer } from "./errors.js";

export interface AttemptSpec {
  readonly method: "GET" | "POST";
  readonly path: string;
  /** JSON text; POST only. */
  readonly body: string;
  readonly idempotencyKey: string | undefined;
  readonly token: string | undefined;
  /** A connection of its own, closed after: for a call that must not meet a stale socket. */
  readonly ownConnection: boolean;
}

export type AttemptOutcome =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false;
      readonly failure: AttemptFailure;
      readonly error: ClientError;
      /** Died on a reused kept-alive socket before any answer byte. */
      readonly staleSocket?: boolean;
    };

/** Sends one attempt; resolves with its outcome, rejects only when the deadline or the caller ends it. */
export async function attempt(
  endpoint: string,
  origin: Origin,
  agents: ClientAgents,
  spec: AttemptSpec,
  deadline: Deadline,
  maxResponseBytes: number,
): Promise<AttemptOutcome> {
  const headers: Record<string, string> = {};
  if (spec.method === "POST") headers["content-type"] = "application/json";
  if (spec.idempotencyKey !== undefined) headers["idempotency-key"] = spec.idempotencyKey;
  if (spec.token !== undefined) headers["authorization"] = spec.token;
  const agent = spec.ownConnection ? agents.unpooled(origin) : agents.pooled(origin);
  const request = { origin, path: spec.path, agent, headers, signal: deadline.signal };
  let response: IncomingMessage;
  try {
    response =
      spec.method === "POST" ? await post({ ...request, body: spec.body }) : await get(request);
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
    const text = (await readBody(response, maxResponseBytes)).toString("utf8");
    if (status >= 200 && status < 300) return { ok: true, value: parseJson(text, status) };
    const retryAfter = response.headers["retry-after"];
    const error = shardErrorFromServer(errorBody(text), status, retryAfter);
    return { ok: false, failure: { kind: "answered", status, code: error.code }, error };
  } catch (error) {
    deadline.throwIfDone();
    if (error instanceof BadResponseError) throw error;
    return {
      ok: false,
      failure: { kind: "lost" },
      error: new UnavailableError(`${endpoint} dropped the answer: ${describe(error)}`, error),
    };
  }
}

/** Codes of a request that never left: nothing reached any server. */
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH"]);

/** A GET: resolves once the answer's head arrived, as `post` does. */
function get(spec: {
  origin: Origin;
  path: string;
  agent: http.Agent;
  headers: Readonly<Record<string, string>>;
  signal: AbortSignal;
}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const { signal } = spec;
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const send = spec.origin.protocol === "https:" ? https.request : http.request;
    const request = send({
      protocol: spec.origin.protocol,
      hostname: spec.origin.hostname,
      port: spec.origin.port,
      path: `${spec.origin.basePath}${spec.path}`,
      method: "GET",
      agent: spec.agent,
      headers: spec.headers,
    });
    let answered = false;
    const onAbort = () => request.destroy(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    request.once("close", () => signal.removeEventListener("abort", onAbort));
    request.on("error", (error: NodeJS.ErrnoException) => {
      if (answered) return;
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const notSent = NOT_SENT_CODES.has(error.code ?? "");
      reject(new RequestFailedError(notSent, request.reusedSocket && !notSent, error));
    });
    request.once("response", (response) => {
      answered = true;
      resolve(response);
    });
    request.end();
  });
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

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause =
    error.cause instanceof Error && !error.message.includes(error.cause.message)
      ? `: ${error.cause.message}`
      : "";
  return `${error.message}${cause}`;
}
