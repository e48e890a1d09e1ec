/**
 * The one place where a `conclave serve` process's parts are configured:
 * storage, transport, RaftNode options and createServer options. Anything
 * that wires more into the process (metrics, hooks) belongs here.
 */
import { readFile } from "node:fs/promises";
import type { FastifyBaseLogger } from "fastify";
import { memberTokenKey } from "../../auth/index.js";
import type { KvResult, KvStore } from "../../kv/index.js";
import type { WarnSink } from "../../log-throttle.js";
import type { RaftNode, RaftNodeObserver, RaftNodeOptions } from "../../raft/node/index.js";
import { WalStorage } from "../../raft/storage/index.js";
import {
  parsePeerAddress,
  TcpTransport,
  type TcpTransportOptions,
  type TransportLogger,
} from "../../raft/transport/index.js";
import type { ClientConnectionOptions, ResolvedClientConnections } from "../client-connections.js";
import type { ServerOptions } from "../options.js";
import type { ServeConfig } from "./config.js";
import { ServeConfigError } from "./config-error.js";

async function pem(path: string, field: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw new ServeConfigError(field, "settings", `cannot read ${path}: ${(err as Error).message}`);
  }
}

export async function openStorage(config: ServeConfig): Promise<WalStorage> {
  return WalStorage.open(config.dataDir, {
    clusterId: config.clusterId,
    nodeId: config.nodeId,
    snapshotCatchUpEntries: config.snapshotCatchUpEntries,
    snapshotCatchUpBytes: config.snapshotCatchUpBytes,
  });
}

export async function createTransport(
  config: ServeConfig,
  logger: TransportLogger,
  extra: Pick<TcpTransportOptions, "admitUnknownPeers" | "coalesceWrites"> = {},
): Promise<TcpTransport> {
  const tls =
    config.peerCertFile === undefined ||
    config.peerKeyFile === undefined ||
    config.peerCaFile === undefined
      ? undefined
      : {
          cert: await pem(config.peerCertFile, "peerCertFile"),
          key: await pem(config.peerKeyFile, "peerKeyFile"),
          ca: await pem(config.peerCaFile, "peerCaFile"),
          // Certificates name members; peers are also checked by the secret handshake.
          verifyHostname: false,
        };
  return new TcpTransport({
    nodeId: config.nodeId,
    clusterId: config.clusterId,
    ...(config.clusterSecret !== undefined && { secret: config.clusterSecret }),
    ...(config.peerAuth === "none" && { unauthenticatedPeers: true }),
    listen: parsePeerAddress(config.listenPeer),
    logger,
    ...extra,
    ...(tls !== undefined && { tls }),
  });
}

export function nodeOptions(
  config: ServeConfig,
  parts: {
    storage: WalStorage;
    transport: TcpTransport;
    store: KvStore;
    onFatal: (err: Error) => void;
    /** Where refused peer messages are reported, rate-limited. */
    logger?: WarnSink;
    /** The server metrics' node observer. */
    observer?: RaftNodeObserver;
  },
): RaftNodeOptions<KvResult> {
  return {
    id: config.nodeId,
    storage: parts.storage,
    transport: parts.transport,
    stateMachine: parts.store,
    initialCluster: new Map(config.initialCluster.map((m) => [m.id, m.peerAddress])),
    join: config.join,
    heartbeatMs: config.heartbeatMs,
    electionMs: config.electionMs,
    snapshotEveryEntries: config.snapshotEveryEntries,
    snapshotEveryBytes: config.snapshotEveryBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    onFatal: parts.onFatal,
    ...(parts.logger !== undefined && { logger: parts.logger }),
    ...(parts.observer !== undefined && { observer: parts.observer }),
  };
}

/** The serve settings as client connection options; 0 means "derive from the fd limit". */
export function clientConnectionSettings(config: ServeConfig): ClientConnectionOptions {
  return {
    ...(config.maxClientConnections > 0 && { maxConnections: config.maxClientConnections }),
    ...(config.maxClientConnectionsPerHost > 0 && {
      maxConnectionsPerHost: config.maxClientConnectionsPerHost,
    }),
    headersTimeoutMs: config.headersTimeoutMs,
    requestReceiveTimeoutMs: config.requestReceiveTimeoutMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
  };
}

export async function serverOptions(
  config: ServeConfig,
  parts: {
    node: RaftNode<KvResult>;
    store: KvStore;
    logger: FastifyBaseLogger;
    clientConnections: ResolvedClientConnections;
  },
): Promise<ServerOptions> {
  const https =
    config.clientCertFile === undefined || config.clientKeyFile === undefined
      ? undefined
      : {
          cert: await pem(config.clientCertFile, "clientCertFile"),
          key: await pem(config.clientKeyFile, "clientKeyFile"),
          ...(config.clientCaFile !== undefined && {
            ca: await pem(config.clientCaFile, "clientCaFile"),
          }),
        };
  return {
    node: parts.node,
    store: parts.store,
    clusterId: config.clusterId,
    loggerInstance: parts.logger,
    bodyLimitBytes: config.bodyLimitBytes,
    maxKeyBytes: config.maxKeyBytes,
    maxValueBytes: config.maxValueBytes,
    maxTxnOps: config.maxTxnOps,
    maxWatchers: config.maxWatchers,
    maxWatchersPerClient: config.maxWatchersPerClient,
    maxWatchBufferBytes: config.maxWatchBufferBytes,
    maxTotalWatchBytes: config.maxTotalWatchBytes,
    watchEndGraceMs: config.watchEndGraceMs,
    requestTimeoutMs: config.requestTimeoutMs,
    strictReconfigCheck: config.strictReconfigCheck,
    maxLearners: config.maxLearners,
    allowedHosts: [new URL(config.advertiseClientUrl).hostname, ...config.allowedHosts],
    peerExposure: {
      listenHost: parsePeerAddress(config.listenPeer).host,
      tls: config.peerCertFile !== undefined,
      unauthenticated: config.peerAuth === "none",
    },
    maxRangeBytes: config.maxRangeBytes,
    quotaBackendBytes: config.quotaBackendBytes,
    ...(config.autoCompaction !== undefined && { autoCompaction: config.autoCompaction }),
    clientConnections: parts.clientConnections,
    authTokenTtlMs: config.authTokenTtlMs,
    auth: {
      bcryptCost: config.bcryptCost,
      memberTokenKey: memberCredentialKey(config),
      failureLimits: {
        maxFailures: config.authFailureLimit,
        windowMs: config.authFailureWindowMs,
        maxLockoutMs: config.authLockoutMaxMs,
      },
    },
    ...(https !== undefined && { https }),
  };
}

/**
 * The key a member signs its member/update credential with, derived from the
 * cluster secret. With peer TLS and no secret there is none: while client auth
 * is enabled, such members publish their attributes only when they lead.
 */
export function memberCredentialKey(config: ServeConfig): Uint8Array | undefined {
  return config.clusterSecret === undefined ? undefined : memberTokenKey(config.clusterSecret);
}
