import { type ClientRequest, Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { HttpApiError } from "./errors.js";

/** TLS settings of a follower's requests to the leader: its own certificate, and the CA. */
export interface LeaderClientTls {
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
}

export interface LeaderRequest {
  /** The leader's client URL (scheme, host, port). */
  readonly baseUrl: string;
  readonly method: string;
  /** Path and query, as the client sent them. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** JSON text, or a raw value's bytes; undefined for a request without a body. */
  readonly body: string | Uint8Array | undefined;
  readonly timeoutMs: number;
}

/** The leader's answer, relayed as it came. */
export interface LeaderAnswer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

/**
 * The request never reached the leader (no connection could be made): it was
 * certainly not applied, so the follower may answer NOT_LEADER instead.
 */
export class LeaderNotReachedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LeaderNotReachedError";
  }
}

/**
 * The request may have reached the leader, but no whole answer came back:
 * the write may or may not have been applied. 504 when the time ran out.
 */
export class ForwardOutcomeUnknownError extends HttpApiError {
  constructor(statusCode: 503 | 504, message: string) {
    super(statusCode, "OUTCOME_UNKNOWN", message);
  }
}

/**
 * Sends requests to the leader's client API over kept-alive connections,
 * each with a deadline and a bound on the answer's size.
 */
export class LeaderClient {
  readonly #tls: LeaderClientTls;
  readonly #maxAnswerBytes: number;
  readonly #http: HttpAgent;
  readonly #https: HttpsAgent;

  constructor(options: { tls: LeaderClientTls; maxSockets: number; maxAnswerBytes: number }) {
    this.#tls = options.tls;
    this.#maxAnswerBytes = options.maxAnswerBytes;
    const agent = { keepAlive: true, maxSockets: options.maxSockets };
    this.#http = new HttpAgent(agent);
    this.#https = new HttpsAgent(agent);
  }

  send(r: LeaderRequest): Promise<LeaderAnswer> {
    return new Promise((resolve, reject) => {
      const url = new URL(r.path, r.baseUrl);
      const https = url.protocol === "https:";
      const headers: Record<string, string> = { ...r.headers };
      if (r.body !== undefined) {
        const raw = r.body instanceof Uint8Array;
        headers["content-type"] = raw ? "application/octet-stream" : "application/json";
        headers["content-length"] = String(raw ? r.body.byteLength : Buffer.byteLength(r.body));
      }
      const options = { method: r.method, headers };
      const req: ClientRequest = https
        ? httpsRequest(url, { ...options, ...this.#tls, agent: this.#https })
        : httpRequest(url, { ...options, agent: this.#http });
      // Until a connection stands, nothing can have reached the leader.
      let connected = false;
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () =>
          fail(
            connected
              ? new ForwardOutcomeUnknownError(
                  504,
                  `the leader did not answer within ${r.timeoutMs} ms`,
                )
              : new LeaderNotReachedError(`no connection to the leader within ${r.timeoutMs} ms`),
          ),
        r.timeoutMs,
      );
      req.on("socket", (socket) => {
        if (!socket.connecting) connected = true;
        // Over TLS the request is written only after the handshake: a refused
        // certificate means nothing was sent.
        else
          socket.once(
            "encrypted" in socket ? "secureConnect" : "connect",
            () => (connected = true),
          );
      });
      req.on("error", (err) =>
        fail(
          connected
            ? new ForwardOutcomeUnknownError(503, `the leader's answer was lost: ${err.message}`)
            : new LeaderNotReachedError(`cannot reach the leader: ${err.message}`),
        ),
      );
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on("data", (chunk: Buffer) => {
          bytes += chunk.byteLength;
          if (bytes > this.#maxAnswerBytes) {
            fail(
              new ForwardOutcomeUnknownError(
                503,
                `the leader's answer exceeds ${this.#maxAnswerBytes} bytes`,
              ),
            );
            return;
          }
          chunks.push(chunk);
        });
        res.on("error", (err) =>
          fail(
            new ForwardOutcomeUnknownError(503, `the leader's answer broke off: ${err.message}`),
          ),
        );
        res.on("close", () => {
          if (!res.complete)
            fail(new ForwardOutcomeUnknownError(503, "the leader's answer broke off"));
        });
        res.on("end", () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const type = res.headers["content-type"];
          resolve({
            status: res.statusCode ?? 502,
            contentType: typeof type === "string" ? type : undefined,
            body: Buffer.concat(chunks),
          });
        });
      });
      req.end(r.body);
    });
  }

  /** Closes the kept-alive connections (the server's close). */
  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}
