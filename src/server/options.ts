import { InvalidArgumentError } from "../errors.js";
import type { KvResult, KvStore } from "../kv/index.js";
import type { RaftNode } from "../raft/node/index.js";

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
  /** Client-facing URL per node id, returned as `leaderUrl` in NOT_LEADER answers. */
  readonly clientUrls?: ReadonlyMap<number, string>;
  /** fastify/pino logger; off by default. */
  readonly logger?: boolean;
  /** Open watch streams in total; more get 429 TOO_MANY_WATCHERS. */
  readonly maxWatchers?: number;
  /** Open watch streams per remote address; more get 429 TOO_MANY_WATCHERS. */
  readonly maxWatchersPerClient?: number;
  /** Bytes a watch stream may hold for a slow reader before it ends with WATCH_TOO_SLOW. */
  readonly maxWatchBufferBytes?: number;
  /** Idle watch streams get a `: ping` comment this often. */
  readonly watchKeepAliveMs?: number;
  /** Streams that asked for progress_notify get a progress event this often. */
  readonly watchProgressIntervalMs?: number;
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
