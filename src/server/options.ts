import type { FastifyBaseLogger } from "fastify";
import type { Clock } from "../clock.js";
import { InvalidArgumentError } from "../errors.js";
import {
  type AutoCompactionPolicy,
  type KvResult,
  type KvStore,
  resolveQuotaBytes,
  type ServerLeaseExpiryOptions,
} from "../kv/index.js";
import type { RaftNode } from "../raft/node/index.js";
import type { ServerAuthOptions } from "./auth-options.js";
import type { ClientConnectionOptions } from "./client-connections.js";
import type { ServerMetrics } from "./metrics.js";
import { DEFAULT_MAX_REQUEST_DEPTH } from "./request-depth.js";
import type { PeerExposure } from "./security-warnings.js";

export interface ServerOptions {
  readonly node: RaftNode<KvResult>;
  readonly store: KvStore;
  /** The cluster's id (as in the data dir): its hash is the cluster_id of response headers. */
  readonly clusterId?: string;
  /** Largest accepted request body; base64 makes a value ~4/3 its size on the wire. */
  readonly bodyLimitBytes?: number;
  readonly maxKeyBytes?: number;
  readonly maxValueBytes?: number;
  /** Operations in one txn, nested txns' included. */
  readonly maxTxnOps?: number;
  /**
   * Host header names served besides loopback ones and the bound address
   * (DNS-rebinding defence, see host-check.ts): exact names, `*.domain`, or `*`.
   */
  readonly allowedHosts?: readonly string[];
  /** How the member's peer transport is exposed, for the security warnings; absent: not reported. */
  readonly peerExposure?: PeerExposure;
  /** Deepest nesting of objects and arrays in a JSON body (default 64); deeper is REQUEST_TOO_DEEP. */
  readonly maxRequestDepth?: number;
  /** Passed to every proposal and linearizable read. */
  readonly requestTimeoutMs?: number;
  /**
   * Client-facing URL per node id, returned as `leaderUrl` in NOT_LEADER answers.
   * Default: the client URLs members published through the log (store.members).
   */
  readonly clientUrls?: ReadonlyMap<number, string>;
  /**
   * Requests a follower forwards to the leader at once (default 1024); more
   * are refused with TOO_MANY_FORWARDS. 0: followers answer NOT_LEADER instead.
   */
  readonly maxLeaderForwards?: number;
  /** Open watch streams in total; more are refused with TOO_MANY_WATCHERS. */
  readonly maxWatchers?: number;
  /**
   * Open watch streams per client: per authenticated user, else per host
   * (all of loopback is one host, an IPv6 client counts by its /64).
   */
  readonly maxWatchersPerClient?: number;
  /** fastify/pino logger; off by default. */
  readonly logger?: boolean;
  /** Bytes a watch stream may hold (queued + in its socket) before it ends with WATCH_TOO_SLOW. */
  readonly maxWatchBufferBytes?: number;
  /**
   * Bytes all watch streams together may hold, a frame shared by many streams
   * counted once; over it, the streams furthest behind end with WATCH_TOO_SLOW.
   */
  readonly maxTotalWatchBytes?: number;
  /** An ended watch stream's socket is destroyed if its client has not read the rest by then. */
  readonly watchEndGraceMs?: number;
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
  /** Connection caps and slow-client timeouts (defaults derive from the fd limit). */
  readonly clientConnections?: ClientConnectionOptions;
  /** Key and value bytes one range answer may carry; past it the answer says `more` and `next_key`. */
  readonly maxRangeBytes?: number;
  /** Lease expiry loop: clock, check interval, takeover grace (default: the node's election timeout). */
  readonly leaseExpiry?: ServerLeaseExpiryOptions;
  /** Refuse membership changes that would leave fewer connected voters than a quorum (default true). */
  readonly strictReconfigCheck?: boolean;
  /** Learners the configuration may hold at once; more member adds are refused (default 1). */
  readonly maxLearners?: number;
  /** How long a token from /v3/auth/authenticate is valid (default 300,000: five minutes). */
  readonly authTokenTtlMs?: number;
  /** Password hashing cost, clock and member credentials; see auth-options.ts. */
  readonly auth?: ServerAuthOptions;
  /**
   * Bytes the store may hold (KvStore.sizeBytes); a write that would go past
   * it raises the NOSPACE alarm and is refused with KV_NOSPACE. 0 or absent:
   * 2 GiB, etcd's default.
   */
  readonly quotaBackendBytes?: number;
  /** Compact history automatically on the leader (see auto-compaction.ts); absent: never. */
  readonly autoCompaction?: AutoCompactionPolicy & { readonly clock?: Clock };
}

export interface ServerLimits {
  readonly bodyLimitBytes: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly maxTxnOps: number;
  readonly maxRequestDepth: number;
  readonly requestTimeoutMs: number;
  readonly maxRangeBytes: number;
  readonly quotaBackendBytes: number;
}

export function resolveLimits(options: ServerOptions): ServerLimits {
  const limits: ServerLimits = {
    bodyLimitBytes: options.bodyLimitBytes ?? 2 * 1024 * 1024,
    maxKeyBytes: options.maxKeyBytes ?? 4096,
    maxValueBytes: options.maxValueBytes ?? 1024 * 1024,
    maxTxnOps: options.maxTxnOps ?? 128,
    maxRequestDepth: options.maxRequestDepth ?? DEFAULT_MAX_REQUEST_DEPTH,
    requestTimeoutMs: options.requestTimeoutMs ?? 5000,
    maxRangeBytes: options.maxRangeBytes ?? 4 * 1024 * 1024,
    quotaBackendBytes: resolveQuotaBytes(options.quotaBackendBytes),
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
