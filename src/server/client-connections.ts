import { InvalidArgumentError } from "../errors.js";
import type { ConnectionLimits } from "./connection-limits.js";
import {
  ASSUMED_OPEN_FILE_LIMIT,
  clientConnectionBudget,
  type OpenFileLimits,
  readOpenFileLimits,
} from "./fd-limits.js";

/** How many client connections a member keeps open, and how long a slow client may take. */
export interface ClientConnectionOptions {
  /** Default: what the soft fd limit leaves after a reserve for storage and peers. */
  readonly maxConnections?: number;
  /** Per client host (loopback counts as one). Default: half of maxConnections. */
  readonly maxConnectionsPerHost?: number;
  /** A client must send its whole request head within this long. Default 10 s. */
  readonly headersTimeoutMs?: number;
  /**
   * A client must send its whole request (head and body) within this long.
   * Answers are not bounded by it: a watch stream lives past it. Default 30 s.
   */
  readonly requestReceiveTimeoutMs?: number;
  /** An idle kept-alive connection is closed after this long. Default 5 s. */
  readonly keepAliveTimeoutMs?: number;
  /**
   * A connection on which nothing was read or written for this long is
   * destroyed: a client that asked for a big answer and stopped reading would
   * otherwise pin it in memory for good. Watch streams are never this idle
   * (they send a keep-alive comment every few seconds). Default 120 s.
   */
  readonly idleTimeoutMs?: number;
}

export interface ResolvedClientConnections extends ConnectionLimits {
  readonly headersTimeoutMs: number;
  readonly requestReceiveTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** How often node:http looks for connections past their timeouts. */
  readonly checkIntervalMs: number;
}

export function resolveClientConnections(
  options: ClientConnectionOptions = {},
  fdLimits: OpenFileLimits | undefined = readOpenFileLimits(),
): ResolvedClientConnections {
  const maxConnections =
    options.maxConnections ??
    clientConnectionBudget(fdLimits === undefined ? ASSUMED_OPEN_FILE_LIMIT : fdLimits.soft);
  const resolved = {
    maxConnections,
    maxConnectionsPerHost:
      options.maxConnectionsPerHost ?? Math.max(1, Math.floor(maxConnections / 2)),
    headersTimeoutMs: options.headersTimeoutMs ?? 10_000,
    requestReceiveTimeoutMs: options.requestReceiveTimeoutMs ?? 30_000,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 5_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 120_000,
  };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new InvalidArgumentError(
        `client connection option ${name} must be a positive integer, got ${value}`,
      );
    }
  }
  if (resolved.headersTimeoutMs > resolved.requestReceiveTimeoutMs) {
    throw new InvalidArgumentError(
      `headersTimeoutMs (${resolved.headersTimeoutMs}) must not exceed requestReceiveTimeoutMs (${resolved.requestReceiveTimeoutMs})`,
    );
  }
  // node:http checks timeouts only this often (30 s by default), which would let a slow
  // client hold its connection up to that much past its timeout.
  const checkIntervalMs = Math.max(10, Math.min(1000, Math.floor(resolved.headersTimeoutMs / 4)));
  return { ...resolved, checkIntervalMs };
}

/** The node:http(s) server options that enforce the timeouts. */
export function httpTimeoutOptions(c: ResolvedClientConnections) {
  return {
    headersTimeout: c.headersTimeoutMs,
    requestTimeout: c.requestReceiveTimeoutMs,
    keepAliveTimeout: c.keepAliveTimeoutMs,
    connectionsCheckingInterval: c.checkIntervalMs,
  };
}
