import http from "node:http";
import https from "node:https";
import { ClientError } from "./errors.js";
import { type Origin, parseOrigin } from "./http-request.js";

/**
 * How long a kept-alive socket may sit idle, unless the server announces less.
 * On a socket in use it only emits 'timeout', which nothing acts on: calls end
 * by their own deadline.
 */
const IDLE_SOCKET_TIMEOUT_MS = 60_000;

/** PEM text or bytes for https endpoints. */
export interface TlsOptions {
  /** Trusted CA certificates, instead of Node's bundled roots (for a private CA). */
  readonly ca?: string | Buffer;
  /** A client certificate, for a server that authenticates clients by certificate; needs `key`. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

/** Checks TLS options once, where the client is made. */
export function validateTls(tls: TlsOptions | undefined): TlsOptions | undefined {
  if (tls === undefined) return undefined;
  if (typeof tls !== "object" || tls === null) {
    throw new ClientError("INVALID_ARGUMENT", "tls must be an object { ca?, cert?, key? }");
  }
  for (const name of ["ca", "cert", "key"] as const) {
    const value: unknown = tls[name];
    if (value !== undefined && typeof value !== "string" && !Buffer.isBuffer(value)) {
      throw new ClientError("INVALID_ARGUMENT", `tls.${name} must be PEM text or a Buffer`);
    }
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new ClientError("INVALID_ARGUMENT", "tls.cert and tls.key go together");
  }
  return tls;
}

/**
 * A client's connections. Calls that are safe to repeat share kept-alive
 * sockets (per origin, reused most-recent first). Streams (watches, snapshot)
 * and calls that must not be repeated each get a connection of their own,
 * closed when they end: a stream holds its socket for as long as it lives and
 * must not take one from the calls, and a call that may not be repeated must
 * never ride a reused socket the server may have just closed (its reset
 * could not be told apart from a lost answer).
 */
export class ClientAgents {
  private readonly agents = new Map<string, http.Agent>();
  private readonly origins = new Map<string, Origin>();

  constructor(private readonly tls: TlsOptions = {}) {}

  /** `endpoint` parsed, once per endpoint. */
  origin(endpoint: string): Origin {
    let origin = this.origins.get(endpoint);
    if (origin === undefined) {
      origin = parseOrigin(endpoint);
      this.origins.set(endpoint, origin);
    }
    return origin;
  }

  /** The kept-alive pool for `origin`'s protocol. */
  pooled(origin: Origin): http.Agent {
    return this.agent(origin.protocol, true);
  }

  /** An agent that opens a new connection per request and closes it after. */
  unpooled(origin: Origin): http.Agent {
    return this.agent(origin.protocol, false);
  }

  /** Destroys every socket, open requests' included. */
  destroy(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  private agent(protocol: Origin["protocol"], keepAlive: boolean): http.Agent {
    const name = `${protocol}${keepAlive ? "pooled" : "unpooled"}`;
    let agent = this.agents.get(name);
    if (agent === undefined) {
      // Node honours a server's `Keep-Alive: timeout=N` hint (dropping an idle socket
      // a second before the server would) only below the agent's own timeout.
      const options = {
        keepAlive,
        scheduling: "lifo" as const,
        ...(keepAlive && { timeout: IDLE_SOCKET_TIMEOUT_MS }),
      };
      agent =
        protocol === "https:"
          ? new https.Agent({ ...options, ...this.tls })
          : new http.Agent(options);
      this.agents.set(name, agent);
    }
    return agent;
  }
}
