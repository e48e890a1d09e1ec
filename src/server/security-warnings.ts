import type { FastifyInstance } from "fastify";
import { isLoopbackHost } from "./host-check.js";
import type { ServerOptions } from "./options.js";

/**
 * Ways a member is served insecurely. Each is allowed (a trusted network, a
 * proxy that terminates TLS) but never silent: `conclave serve` logs every
 * one at start, and the status routes list them for as long as they hold.
 */

/** How the peer side of a member is exposed; the HTTP server cannot see it. */
export interface PeerExposure {
  /** The host the peer transport listens on. */
  readonly listenHost: string;
  /** Peers use mutual TLS. */
  readonly tls: boolean;
  /** Peers are not authenticated at all (`--dev-unauthenticated-peers`, loopback only). */
  readonly unauthenticated: boolean;
}

export interface ExposureFacts {
  /** The address the client API is bound to; undefined when it is not listening. */
  readonly clientAddress: { readonly host: string; readonly port: number } | undefined;
  /** The client API serves https. */
  readonly clientTls: boolean;
  /** Clients must present a certificate signed by the configured CA. */
  readonly clientCertificates: boolean;
  /** Client authentication (users, tokens) is enabled in the cluster. */
  readonly authEnabled: boolean;
  readonly peer: PeerExposure | undefined;
  /** What the client address serves: the HTTP client API (default) or etcd's gRPC API. */
  readonly clientProtocol?: "HTTP" | "gRPC";
}

const beyondLoopback = (host: string) => !isLoopbackHost(host.toLowerCase());

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The warnings that hold for these facts, in a fixed order; empty when served safely. */
export function securityWarnings(facts: ExposureFacts): string[] {
  const warnings: string[] = [];
  const client = facts.clientAddress;
  if (client !== undefined && beyondLoopback(client.host)) {
    const where = hostPort(client.host, client.port);
    const protocol = facts.clientProtocol ?? "HTTP";
    const api = protocol === "HTTP" ? "client API" : "etcd gRPC API";
    if (!facts.clientTls) {
      warnings.push(
        `${api} on ${where} serves plaintext ${protocol} beyond loopback: requests, answers and credentials cross the network readable and alterable; set clientCertFile and clientKeyFile`,
      );
    }
    if (!facts.authEnabled && !facts.clientCertificates) {
      warnings.push(
        `${api} on ${where} serves unauthenticated clients beyond loopback: anyone who reaches it can read and write every key, add and remove members and download snapshots; enable auth or set clientCaFile`,
      );
    }
  }
  const peer = facts.peer;
  if (peer !== undefined && beyondLoopback(peer.listenHost) && !peer.tls) {
    warnings.push(
      `peer transport on ${peer.listenHost} runs without TLS beyond loopback: every replicated write crosses the network unencrypted; set peerCertFile, peerKeyFile and peerCaFile`,
    );
  }
  if (peer?.unauthenticated === true) {
    warnings.push(
      "peers are not authenticated (--dev-unauthenticated-peers): any process on this host can act as a member; development only: set clusterSecretFile or peer TLS",
    );
  }
  return warnings;
}

/** The warnings of a server built by createServer, computed when asked (auth is switched on and off through the log). */
export function serverWarnings(
  app: FastifyInstance,
  options: Pick<ServerOptions, "https" | "peerExposure"> & {
    readonly store: { readonly auth: { readonly enabled: boolean } };
  },
): () => string[] {
  return () => {
    const address = app.server.address();
    return securityWarnings({
      clientAddress:
        typeof address === "object" && address !== null
          ? { host: address.address, port: address.port }
          : undefined,
      clientTls: options.https !== undefined,
      clientCertificates: options.https?.ca !== undefined,
      authEnabled: options.store.auth.enabled,
      peer: options.peerExposure,
    });
  };
}
