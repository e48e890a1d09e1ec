import http from "node:http";
import https from "node:https";
import { BadResponseError } from "./errors.js";

/** Where an endpoint's requests go, parsed once. */
export interface Origin {
  readonly protocol: "http:" | "https:";
  readonly hostname: string;
  readonly port: number;
  /** The endpoint URL's path, without a trailing slash; prefixed to every route. */
  readonly basePath: string;
}

export function parseOrigin(endpoint: string): Origin {
  const url = new URL(endpoint);
  const https = url.protocol === "https:";
  return {
    protocol: https ? "https:" : "http:",
    // node:http wants an IPv6 address without the URL's brackets.
    hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port === "" ? (https ? 443 : 80) : Number(url.port),
    basePath: url.pathname.replace(/\/+$/, ""),
  };
}

export interface RequestSpec {
  readonly origin: Origin;
  readonly path: string;
  readonly agent: http.Agent;
  readonly headers: Readonly<Record<string, string>>;
  /** Default POST. */
  readonly method?: "GET" | "POST";
  /**
   * What a POST sends (default none); a GET sends no body. A string goes out
   * in one write with the head; bytes (a raw value) take a second.
   */
  readonly body?: string | Uint8Array;
  /** Aborting destroys the request, also while its answer is being read. */
  readonly signal: AbortSignal;
}

/** Error codes of a request that never left: nothing reached any server. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "CONNECT_TIMEOUT",
]);

/** A connection not made by then fails the attempt (nothing was sent), so the next endpoint is tried. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Codes of a connection the peer closed under us. */
const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

/**
 * A request that got no answer head. `notSent`: it certainly never left
 * (connection refused, no route, name not resolved). `staleSocket`: a
 * kept-alive socket was reused and reset before any answer byte, most likely
 * because the server closed it while idle; the request may still have
 * reached the server, so only a call that is safe to repeat may repeat it.
 */
export class RequestFailedError extends Error {
  constructor(
    readonly notSent: boolean,
    readonly staleSocket: boolean,
    cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
  }
}

/**
 * Sends a request (a POST with `body`, or a GET) and resolves with the answer
 * once its head arrived; the body is left to the caller (read it, or destroy
 * the answer). Rejects with the signal's reason once it aborted, else with a
 * RequestFailedError.
 */
export function send(spec: RequestSpec): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const { signal } = spec;
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const method = spec.method ?? "POST";
    const body = method === "POST" ? (spec.body ?? "") : undefined;
    const open = spec.origin.protocol === "https:" ? https.request : http.request;
    const request = open({
      protocol: spec.origin.protocol,
      hostname: spec.origin.hostname,
      port: spec.origin.port,
      path: `${spec.origin.basePath}${spec.path}`,
      method,
      agent: spec.agent,
      headers:
        body === undefined
          ? spec.headers
          : { ...spec.headers, "content-length": String(Buffer.byteLength(body)) },
    });
    let answered = false;
    const onAbort = () => request.destroy(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    let connectTimer: ReturnType<typeof setTimeout> | undefined;
    request.once("socket", (socket) => {
      if (!socket.connecting) return;
      connectTimer = setTimeout(() => {
        const error = new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`);
        request.destroy(Object.assign(error, { code: "CONNECT_TIMEOUT" }));
      }, CONNECT_TIMEOUT_MS);
      socket.once("connect", () => clearTimeout(connectTimer));
    });
    // 'close' comes once the answer was read to its end or the socket went away.
    request.once("close", () => {
      clearTimeout(connectTimer);
      signal.removeEventListener("abort", onAbort);
    });
    request.on("error", (error: NodeJS.ErrnoException) => {
      if (answered) return; // the answer's own stream reports it
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const code = error.code ?? "";
      const staleSocket = request.reusedSocket && RESET_CODES.has(code);
      reject(new RequestFailedError(NOT_SENT_CODES.has(code), staleSocket, error));
    });
    request.once("response", (response) => {
      answered = true;
      resolve(response);
    });
    if (body === undefined) request.end();
    else request.end(body, "utf8");
  });
}

/**
 * Reads a whole answer body of at most `maxBytes`; a bigger one is destroyed
 * and rejected with a BadResponseError. A connection lost midway rejects
 * with the stream's error.
 */
export function readBody(response: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const status = response.statusCode;
    const declared = Number(response.headers["content-length"] ?? Number.NaN);
    const tooBig = (bytes: number) => {
      response.destroy();
      reject(
        new BadResponseError(
          `the answer has ${bytes} bytes, more than the ${maxBytes} allowed`,
          status,
        ),
      );
    };
    if (declared > maxBytes) {
      tooBig(declared);
      return;
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    response.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) tooBig(bytes);
      else chunks.push(chunk);
    });
    response.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    response.once("error", reject);
    response.once("close", () => {
      if (!response.complete) reject(new Error("the connection closed before the answer ended"));
    });
  });
}
