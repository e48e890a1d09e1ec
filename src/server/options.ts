import type { FastifyBaseLogger } from "fastify";
import { InvalidArgumentError } from "../errors.js";
import type { KvResult, KvStore } from "../kv/index.js";
import type { RaftNode } from "../raft/node/index.js";
import type { ServerAuthOptions } from "./auth-options.js";
import type { ServerLeaseExpiryOptions } from "./lease-expiry.js";
import type { ServerMetrics } from "./metrics.js";

export interface ServerOptions {
  readonly node: RaftNode<KvResult>;
  readonly store: KvStore;
  /** Largest accepted request body; base64 makes a value ~4/3 its size on the wire. */
  readonly bodyLimitBytes?: number;
  readonly maxKeyBytes?: number;
  readonly maxValueBytes?: number;
  /** Operations in one txn, nested txns' included. */
  readonly maxTxnOps?: number;
  /** Passed to every proposal and linearizable read. */
  readonly requestTimeoutMs?: number;
  /**
   * Client-facing URL per node id, returned as `leaderUrl` in NOT_LEADER answers.
   * Default: the client URLs members published through the log (store.members).
   */
  readonly clientUrls?: ReadonlyMap<number, string>;
  /** Open watch streams in total; more are refused with TOO_MANY_WATCHERS. */
  readonly maxWatchers?: number;
  /** Open watch streams per remote address. */
  readonly maxWatchersPerAddress?: number;
  /** fastify/pino logger; off by default. */
  readonly logger?: boolean;
  /** Bytes a watch stream may hold for a slow reader before it ends with WATCH_TOO_SLOW. */
  readonly maxWatchBufferBytes?: number;
  /** Idle watch streams get a `: ping` comment this often. */
  readonly watchKeepAliveMs?: number;
  /** Streams that asked for progress_notify get a progress event this often. */
  readonly watchProgressIntervalMs?: number;
  /** A pino logger to use instead (takes precedence over `logger`). */
  readonly loggerInstance?: FastifyBaseLogger;
  /** Serve https with these PEM files' contents; `ca` set = clients must present a certificate. */
  readonly https?: { readonly cert: string; readonly key: string; readonly ca?: string };
  /** From createServerMetrics(), whose nodeObserver the node was started with; else a fresh registry. */
  readonly metrics?: ServerMetrics;
  /** Lease expiry loop: clock, check interval, takeover grace (default: the node's election timeout). */
  readonly leaseExpiry?: ServerLeaseExpiryOptions;
  /** How long a token from /v3/auth/authenticate is valid (default 300,000: five minutes). */
  readonly authTokenTtlMs?: number;
  /** Password hashing cost, clock and member credentials; see auth-options.ts. */
  readonly auth?: ServerAuthOptions;
}

export interface ServerLimits {
  readonly bodyLimitBytes: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly maxTxnOps: number;
  readonly requestTimeoutMs: number;
}

export function resolveLimits(options: ServerOptions): ServerLimits {
  const limits: ServerLimits = {
    bodyLimitBytes: options.bodyLimitBytes ?? 2 * 1024 * 1024,
    maxKeyBytes: options.maxKeyBytes ?? 4096,
    maxValueBytes: options.maxValueBytes ?? 1024 * 1024,
    maxTxnOps: options.maxTxnOps ?? 128,
    requestTimeoutMs: options.requestTimeoutMs ?? 5000,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new InvalidArgumentError(
        `server option ${name} must be a positive integer, got ${value}`,
      );
    }
  }
  return limits;
}
