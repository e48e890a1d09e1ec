import { parsePeerAddress } from "../../raft/transport/index.js";
import { checkHttpUrl, type InitialMember, parseInitialCluster } from "./initial-cluster.js";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
const LOG_LEVELS: readonly LogLevel[] = [
  "fatal",
  "error",
  "warn",
  "info",
  "debug",
  "trace",
  "silent",
];

/** Every setting of `conclave serve` after resolution (before cross-field checks). */
export interface ServeSettings {
  name: string | undefined;
  nodeId: number | undefined;
  dataDir: string | undefined;
  listenClient: string;
  listenPeer: string;
  listenGrpc: string | undefined;
  advertiseClientUrl: string | undefined;
  advertiseGrpcUrl: string | undefined;
  advertisePeer: string | undefined;
  initialCluster: InitialMember[] | undefined;
  join: boolean;
  clusterId: string;
  clusterSecret: string | undefined;
  clusterSecretFile: string | undefined;
  devUnauthenticatedPeers: boolean;
  clientCertFile: string | undefined;
  clientKeyFile: string | undefined;
  clientCaFile: string | undefined;
  peerCertFile: string | undefined;
  peerKeyFile: string | undefined;
  peerCaFile: string | undefined;
  heartbeatMs: number;
  electionMs: number;
  snapshotEveryEntries: number;
  snapshotEveryBytes: number;
  snapshotCatchUpEntries: number;
  snapshotCatchUpBytes: number;
  requestTimeoutMs: number;
  bodyLimitBytes: number;
  maxKeyBytes: number;
  maxValueBytes: number;
  maxTxnOps: number;
  maxWatchers: number;
  maxWatchersPerClient: number;
  maxWatchBufferBytes: number;
  maxTotalWatchBytes: number;
  watchEndGraceMs: number;
  strictReconfigCheck: boolean;
  maxLearners: number;
  allowedHosts: string[];
  maxClientConnections: number;
  maxClientConnectionsPerHost: number;
  headersTimeoutMs: number;
  requestReceiveTimeoutMs: number;
  keepAliveTimeoutMs: number;
  idleTimeoutMs: number;
  maxRangeBytes: number;
  kvBackend: KvBackendKind;
  backendBatchIntervalMs: number;
  backendBatchLimit: number;
  authTokenTtlMs: number;
  bcryptCost: number;
  authFailureLimit: number;
  authFailureWindowMs: number;
  authLockoutMaxMs: number;
  quotaBackendBytes: number;
  autoCompactionMode: "periodic" | "revision";
  /** Interpreted by the mode (see auto-compaction-config.ts); "0" is off. */
  autoCompactionRetention: string;
  /** The registry's DNS view, host:port for UDP and TCP; undefined: off. */
  listenDns: string | undefined;
  dnsDomain: string;
  dnsTtlSeconds: number;
  /** Where the registry keeps its records (its layout's root). */
  dnsRegistryRoot: string;
  logLevel: LogLevel;
  /** How far the JS heap may grow past what a full collection left live, in percent (0: V8 chooses). */
  heapGrowthPercent: number;
  /** Shards of the key space (0: one Raft group, the etcd-compatible member). */
  shards: number;
  /** Replicas per shard. */
  replication: number;
  /** This node's relative capacity: its share of replicas. */
  capacity: number;
  /** A node silent this long is down and the controller replaces its replicas. */
  shardFailureTimeoutMs: number;
  /** Shards whose replicas may be moving at once. */
  shardMaxMoving: number;
  /** Heartbeat ticks an idle group waits before it goes quiet (0: never). */
  shardQuiesceTicks: number;
  /** One journal makes every group's appends durable (one fdatasync for all). */
  shardJournal: boolean;
}

type Raw = string | number | boolean;

/** How one setting is spelled in each source, its default and how its value is checked. */
export interface FieldSpec<K extends keyof ServeSettings = keyof ServeSettings> {
  readonly key: K;
  readonly flag: string;
  readonly env: string;
  readonly boolean?: true;
  readonly description: string;
  /** Shown in help and docs. */
  readonly defaultText: string;
  readonly fallback: ServeSettings[K];
  /** Throws an Error whose message says what was expected. */
  readonly parse: (value: Raw) => ServeSettings[K];
}

function text(value: Raw): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new Error(`must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: Raw): number => {
    const n =
      typeof value === "number" ? value : /^[0-9]{1,16}$/.test(String(value)) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new Error(`must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

function bool(value: Raw): boolean {
  if (typeof value === "boolean") return value;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new Error(`must be true or false, got ${JSON.stringify(value)}`);
}

function address(value: Raw): string {
  const s = text(value);
  parsePeerAddress(s);
  return s;
}

function url(value: Raw): string {
  const s = text(value);
  checkHttpUrl(s, "value");
  return s;
}

/** Host names for the DNS-rebinding check: names, `*.domain` or `*`, comma-separated. */
function hostList(value: Raw): string[] {
  const hosts = String(value)
    .split(",")
    .map((h) => h.trim())
    .filter((h) => h !== "");
  for (const h of hosts) {
    if (!/^(\*|(\*\.)?[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])$/.test(h)) {
      throw new Error(
        `must be host names, *.domain or *, comma-separated, got ${JSON.stringify(h)}`,
      );
    }
  }
  return hosts;
}

export const KV_BACKENDS = ["lmdb", "memory"] as const;
export type KvBackendKind = (typeof KV_BACKENDS)[number];

function kvBackend(value: Raw): KvBackendKind {
  if (typeof value === "string" && (KV_BACKENDS as readonly string[]).includes(value)) {
    return value as KvBackendKind;
  }
  throw new Error(`must be one of ${KV_BACKENDS.join(", ")}, got ${JSON.stringify(value)}`);
}

/** A DNS domain: dot-separated labels, a trailing dot optional. */
function dnsDomain(value: Raw): string {
  const s = text(value);
  const labels = s.replace(/\.$/, "").split(".");
  if (
    s.length > 200 ||
    !labels.every((l) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l))
  ) {
    throw new Error(
      `must be a DNS domain of labels a-z, 0-9 and '-', such as conclave. or svc.example.com., got ${JSON.stringify(value)}`,
    );
  }
  return s;
}

function keyPrefix(value: Raw): string {
  const s = text(value);
  if (!s.endsWith("/")) throw new Error(`must end with '/', got ${JSON.stringify(value)}`);
  return s;
}

function logLevel(value: Raw): LogLevel {
  if (typeof value === "string" && (LOG_LEVELS as string[]).includes(value)) {
    return value as LogLevel;
  }
  throw new Error(`must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(value)}`);
}

function spec<K extends keyof ServeSettings>(
  key: K,
  flag: string,
  fallback: ServeSettings[K],
  parse: (value: Raw) => ServeSettings[K],
  description: string,
  defaultText = fallback === undefined ? "" : String(fallback),
): FieldSpec<K> {
  const env = `CONCLAVE_${flag.replace(/-/g, "_").toUpperCase()}`;
  return { key, flag, env, fallback, parse, description, defaultText };
}

const MiB = 1024 * 1024;

export const FIELDS: readonly FieldSpec[] = [
  spec("name", "name", undefined, text, "this member's name", "node<id>"),
  spec(
    "nodeId",
    "node-id",
    undefined,
    integer(1),
    "this member's Raft id",
    "from --initial-cluster, else 1",
  ),
  spec("dataDir", "data-dir", undefined, text, "WAL and snapshots", "data/<name>"),
  spec("listenClient", "listen-client", "127.0.0.1:7379", address, "client API host:port"),
  spec("listenPeer", "listen-peer", "127.0.0.1:7380", address, "peer transport host:port"),
  spec(
    "listenGrpc",
    "listen-grpc",
    undefined,
    address,
    "etcd v3 gRPC API host:port (TLS and auth as the client API)",
    "off",
  ),
  spec(
    "advertiseClientUrl",
    "advertise-client-url",
    undefined,
    url,
    "client URL published to the cluster",
    "http(s)://<listen-client>",
  ),
  spec(
    "advertiseGrpcUrl",
    "advertise-grpc-url",
    undefined,
    url,
    "etcd gRPC URL published to the cluster (the gRPC MemberList's client URLs)",
    "http(s)://<listen-grpc>",
  ),
  spec(
    "advertisePeer",
    "advertise-peer",
    undefined,
    address,
    "peer address published to the cluster",
    "<listen-peer>",
  ),
  spec(
    "initialCluster",
    "initial-cluster",
    undefined,
    (v) => parseInitialCluster(text(v)),
    "founding members: name=id@host:port[@clientUrl],...",
    "this member alone",
  ),
  {
    ...spec(
      "join",
      "join",
      false,
      bool,
      "join an existing cluster (after member add) instead of founding one",
    ),
    boolean: true,
  },
  spec(
    "clusterId",
    "cluster-id",
    "conclave",
    text,
    "cluster token; peers and data dirs of another cluster are refused",
  ),
  spec(
    "clusterSecret",
    "cluster-secret",
    undefined,
    text,
    "peer secret, >= 32 bytes of real entropy (a flag shows in ps: prefer the file)",
    "none: required unless peers use mutual TLS",
  ),
  spec(
    "clusterSecretFile",
    "cluster-secret-file",
    undefined,
    text,
    "file holding the peer secret; no group or world permissions (chmod 600)",
  ),
  {
    ...spec(
      "devUnauthenticatedPeers",
      "dev-unauthenticated-peers",
      false,
      bool,
      "DEVELOPMENT ONLY: peers are not authenticated; needs a loopback listen-peer",
    ),
    boolean: true,
  },
  spec(
    "clientCertFile",
    "client-cert-file",
    undefined,
    text,
    "client API TLS certificate (PEM); with the key, serves https",
  ),
  spec("clientKeyFile", "client-key-file", undefined, text, "client API TLS private key (PEM)"),
  spec(
    "clientCaFile",
    "client-ca-file",
    undefined,
    text,
    "CA for client certificates; set = clients must present one",
  ),
  spec(
    "peerCertFile",
    "peer-cert-file",
    undefined,
    text,
    "peer TLS certificate (PEM); peers use mutual TLS",
  ),
  spec("peerKeyFile", "peer-key-file", undefined, text, "peer TLS private key (PEM)"),
  spec("peerCaFile", "peer-ca-file", undefined, text, "CA that signs peer certificates"),
  spec("heartbeatMs", "heartbeat-ms", 100, integer(1, 60_000), "Raft heartbeat interval"),
  spec("electionMs", "election-ms", 1000, integer(2, 600_000), "Raft election timeout"),
  spec(
    "snapshotEveryEntries",
    "snapshot-every-entries",
    10_000,
    integer(0),
    "snapshot after this many applied entries (0 = never), so the log kept in memory and replayed on restart stays short; on the lmdb backend a snapshot copies nothing (the backend is flushed, then the log compacted), in memory it copies the whole key space",
  ),
  spec(
    "snapshotEveryBytes",
    "snapshot-every-bytes",
    64 * MiB,
    integer(0),
    "...or after this many applied bytes (0 = never)",
  ),
  spec(
    "snapshotCatchUpEntries",
    "snapshot-catch-up-entries",
    1000,
    integer(0),
    "entries kept behind a snapshot for slow followers",
  ),
  spec(
    "snapshotCatchUpBytes",
    "snapshot-catch-up-bytes",
    8 * MiB,
    integer(0),
    "...and at most this many bytes of them: big entries are not kept in memory and rewritten at every compaction",
  ),
  spec(
    "requestTimeoutMs",
    "request-timeout-ms",
    5000,
    integer(1, 600_000),
    "timeout of each proposal and linearizable read",
  ),
  spec("bodyLimitBytes", "body-limit-bytes", 2 * MiB, integer(1), "largest request body"),
  spec("maxKeyBytes", "max-key-bytes", 4096, integer(1), "largest key"),
  spec("maxValueBytes", "max-value-bytes", MiB, integer(1), "largest value"),
  spec("maxTxnOps", "max-txn-ops", 128, integer(1), "operations in one txn"),
  spec("maxWatchers", "max-watchers", 10_000, integer(1), "open watch streams in total"),
  spec(
    "maxWatchersPerClient",
    "max-watchers-per-client",
    1000,
    integer(1),
    "open watch streams per user, or per host for anonymous clients",
  ),
  spec(
    "maxWatchBufferBytes",
    "max-watch-buffer-bytes",
    4 * MiB,
    integer(1),
    "bytes one watch stream may hold for a slow reader",
  ),
  spec(
    "maxTotalWatchBytes",
    "max-total-watch-bytes",
    64 * MiB,
    integer(1),
    "bytes all watch streams together may hold",
  ),
  spec(
    "watchEndGraceMs",
    "watch-end-grace-ms",
    5000,
    integer(1, 600_000),
    "time an ended watch stream's client has to read its last bytes",
  ),
  spec(
    "strictReconfigCheck",
    "strict-reconfig-check",
    true,
    bool,
    "refuse member changes that would leave fewer connected voters than a quorum (false is unsafe)",
  ),
  spec("maxLearners", "max-learners", 1, integer(0), "learners the cluster may hold at once"),
  spec(
    "allowedHosts",
    "allowed-hosts",
    [],
    hostList,
    "extra Host names served (DNS rebinding); *.domain, *",
    "none",
  ),
  spec(
    "maxClientConnections",
    "max-client-connections",
    0,
    integer(0),
    "open client connections (0 = what the fd limit leaves after a reserve)",
    "from the fd limit",
  ),
  spec(
    "maxClientConnectionsPerHost",
    "max-client-connections-per-host",
    0,
    integer(0),
    "open client connections per client host (0 = half the total)",
    "half the total",
  ),
  spec(
    "headersTimeoutMs",
    "headers-timeout-ms",
    10_000,
    integer(1, 600_000),
    "time a client has to send a request head",
  ),
  spec(
    "requestReceiveTimeoutMs",
    "request-receive-timeout-ms",
    30_000,
    integer(1, 3_600_000),
    "time a client has to send a whole request (watch streams outlive it)",
  ),
  spec(
    "keepAliveTimeoutMs",
    "keep-alive-timeout-ms",
    5000,
    integer(1, 600_000),
    "idle kept-alive client connections are closed after this",
  ),
  spec(
    "idleTimeoutMs",
    "idle-timeout-ms",
    120_000,
    integer(1, 3_600_000),
    "client connections with nothing read or written this long are closed",
  ),
  spec(
    "maxRangeBytes",
    "max-range-bytes",
    4 * MiB,
    integer(1),
    "key and value bytes in one range answer; more are paged (more, next_key)",
  ),
  spec(
    "kvBackend",
    "kv-backend",
    "lmdb",
    kvBackend,
    "where the key space lives: lmdb (on disk in <data-dir>/kv; a restart replays only the log tail) or memory (rebuilt from the snapshot and log on each start)",
  ),
  spec(
    "backendBatchIntervalMs",
    "backend-batch-interval-ms",
    100,
    integer(0, 10_000),
    "longest an applied write waits to be committed to the lmdb backend with the writes after it (0: each apply is its own transaction); the log holds it meanwhile",
  ),
  spec(
    "backendBatchLimit",
    "backend-batch-limit",
    10_000,
    integer(1, 1_000_000),
    "backend writes that start that commit at once",
  ),
  spec(
    "authTokenTtlMs",
    "auth-token-ttl-ms",
    300_000,
    integer(1000, 7 * 24 * 3600 * 1000),
    "how long a token from /v3/auth/authenticate is valid",
  ),
  spec("bcryptCost", "bcrypt-cost", 10, integer(4, 31), "bcrypt cost of password hashes"),
  spec(
    "authFailureLimit",
    "auth-failure-limit",
    5,
    integer(1, 1_000_000),
    "failed authentications per client host or user name before attempts are refused (429)",
  ),
  spec(
    "authFailureWindowMs",
    "auth-failure-window-ms",
    60_000,
    integer(1000, 24 * 3600 * 1000),
    "the window failed authentications are counted in",
  ),
  spec(
    "authLockoutMaxMs",
    "auth-lockout-max-ms",
    300_000,
    integer(10_000, 24 * 3600 * 1000),
    "longest lockout after repeated failures; lockouts start at 10 s and double",
  ),
  spec(
    "quotaBackendBytes",
    "quota-backend-bytes",
    0,
    integer(0),
    "bytes the key space may hold before writes are refused and a NOSPACE alarm is raised (0 = 2 GiB)",
    "0: 2 GiB",
  ),
  spec(
    "autoCompactionMode",
    "auto-compaction-mode",
    "periodic",
    (v) => {
      if (v === "periodic" || v === "revision") return v;
      throw new Error(`must be periodic or revision, got ${JSON.stringify(v)}`);
    },
    "periodic: keep a duration of history; revision: keep a number of revisions",
  ),
  spec(
    "autoCompactionRetention",
    "auto-compaction-retention",
    "0",
    (v) => {
      const s = String(v);
      if (!/^([0-9]{1,12}|([0-9]{1,12}(ms|s|m|h))+)$/.test(s)) {
        throw new Error(
          `must be a count or a duration such as 30m or 1h, got ${JSON.stringify(v)}`,
        );
      }
      return s;
    },
    "history auto-compaction keeps: periodic, a duration (5m, 1h; a bare number is hours); revision, a count",
    "0: off",
  ),
  spec(
    "listenDns",
    "listen-dns",
    undefined,
    address,
    "the registry's DNS view (A/AAAA/SRV of served instances), host:port for UDP and TCP; unauthenticated",
    "off",
  ),
  spec("dnsDomain", "dns-domain", "conclave.", dnsDomain, "the domain the DNS view answers for"),
  spec(
    "dnsTtlSeconds",
    "dns-ttl",
    0,
    integer(0, 2_147_483_647),
    "TTL in seconds of DNS answers (and of cached absence)",
  ),
  spec(
    "dnsRegistryRoot",
    "dns-registry-root",
    "/conclave/registry/",
    keyPrefix,
    "key prefix the registry's records are under (its layout root), as the DNS view reads them",
  ),
  spec(
    "logLevel",
    "log-level",
    "info",
    logLevel,
    "fatal, error, warn, info, debug, trace or silent",
  ),
  spec(
    "heapGrowthPercent",
    "heap-growth-percent",
    100,
    integer(0, 1000),
    "how far the JS heap may grow past what the last full collection left live before the next one, in percent; lower holds less memory and collects more often (docs/server.md, Memory); 0 lets V8 choose (up to 300)",
  ),
  spec(
    "shards",
    "shards",
    0,
    integer(0, 65536),
    "split the key space into this many shards, each a Raft group placed by consistent hashing (docs/sharding.md); 0 keeps one group and the etcd-compatible API",
  ),
  spec("replication", "replication", 3, integer(1, 7), "replicas of each shard (sharded mode)"),
  spec(
    "capacity",
    "capacity",
    1,
    integer(1, 1000),
    "this node's relative capacity: a node of capacity 2 holds about twice the replicas (sharded mode)",
  ),
  spec(
    "shardFailureTimeoutMs",
    "shard-failure-timeout-ms",
    10_000,
    integer(100, 3_600_000),
    "a node not heard from this long is down: its replicas are re-created elsewhere (sharded mode)",
  ),
  spec(
    "shardMaxMoving",
    "shard-max-moving",
    8,
    integer(1, 65536),
    "shards whose replicas may move at once (sharded mode)",
  ),
  spec(
    "shardQuiesceTicks",
    "shard-quiesce-ticks",
    3,
    integer(0, 1000),
    "an idle shard stops ticking after this many heartbeats: no timers, no heartbeat messages until it is used or a peer goes silent; 0 keeps every shard ticking (sharded mode)",
  ),
  spec(
    "shardJournal",
    "shard-journal",
    true,
    bool,
    "make every shard's log appends durable through one journal per node, one fdatasync for all shards that wrote meanwhile; false syncs each shard's log on its own (sharded mode)",
  ),
];

export function defaultSettings(): ServeSettings {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) out[f.key] = f.fallback;
  return out as unknown as ServeSettings;
}
