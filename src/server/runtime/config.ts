import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { AutoCompactionPolicy } from "../../kv/index.js";
import { isLoopbackHost, parsePeerAddress } from "../../raft/transport/index.js";
import { autoCompactionPolicy } from "./auto-compaction-config.js";
import { ClusterSecretError, readSecretFile, weakSecretProblem } from "./cluster-secret.js";
import { ServeConfigError } from "./config-error.js";
import { defaultSettings, FIELDS, type FieldSpec, type ServeSettings } from "./config-fields.js";
import type { InitialMember } from "./initial-cluster.js";

/** Resolved and checked settings of one `conclave serve` process. */
export interface ServeConfig
  extends Omit<ServeSettings, "name" | "nodeId" | "dataDir" | "initialCluster" | "clusterSecret"> {
  readonly name: string;
  readonly nodeId: number;
  readonly dataDir: string;
  readonly advertiseClientUrl: string;
  /** Undefined when the gRPC API is off. */
  readonly advertiseGrpcUrl: string | undefined;
  readonly advertisePeer: string;
  readonly initialCluster: readonly InitialMember[];
  /** Undefined when peers are authenticated by mutual TLS alone, or (development) not at all. */
  readonly clusterSecret: string | undefined;
  /** How peers prove they belong: the secret handshake, TLS certificates only, or nothing. */
  readonly peerAuth: "secret" | "tls" | "none";
  /** From autoCompactionMode and autoCompactionRetention; undefined: off. */
  readonly autoCompaction: AutoCompactionPolicy | undefined;
}

/** Bad command-line syntax (unknown flag, missing value): answered with usage, exit 2. */
export class UsageError extends Error {}

export interface ConfigSources {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads the config file; default node:fs. */
  readonly readFile?: (path: string) => string;
}

export interface ParsedServeArgs {
  readonly help: boolean;
  readonly config: ServeConfig | undefined;
}

type Layer = Partial<Record<keyof ServeSettings, unknown>>;
/** Where each setting that is not a default came from, for errors that name it. */
type Origins = Map<keyof ServeSettings, string>;

function apply(
  target: ServeSettings,
  field: FieldSpec,
  value: string | number | boolean,
  source: string,
  origins: Origins,
): void {
  try {
    (target as unknown as Record<string, unknown>)[field.key] = field.parse(value);
    origins.set(field.key, source);
  } catch (err) {
    throw new ServeConfigError(field.key, source, (err as Error).message);
  }
}

function readConfigFile(path: string, read: (path: string) => string): Layer {
  const source = `config file ${path}`;
  let raw: unknown;
  try {
    raw = JSON.parse(read(path));
  } catch (err) {
    throw new ServeConfigError("config", source, `cannot read JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ServeConfigError("config", source, "must be a JSON object of settings");
  }
  for (const key of Object.keys(raw)) {
    if (!FIELDS.some((f) => f.key === key)) {
      throw new ServeConfigError(key, source, "is not a known setting");
    }
  }
  return raw as Layer;
}

/** Flags > environment (CONCLAVE_*) > config file > defaults; then cross-field checks. */
export function resolveServeConfig(sources: ConfigSources): ParsedServeArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...sources.argv],
      options: {
        help: { type: "boolean", short: "h" },
        config: { type: "string" },
        ...Object.fromEntries(
          FIELDS.map((f) => [
            f.flag,
            { type: f.boolean ? ("boolean" as const) : ("string" as const) },
          ]),
        ),
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;
  if (flags["help"] === true) return { help: true, config: undefined };

  const settings = defaultSettings();
  const origins: Origins = new Map();
  const configPath = (flags["config"] as string | undefined) ?? sources.env["CONCLAVE_CONFIG"];
  if (configPath !== undefined && configPath !== "") {
    const file = readConfigFile(configPath, sources.readFile ?? ((p) => readFileSync(p, "utf8")));
    for (const field of FIELDS) {
      const value = file[field.key];
      if (value === undefined) continue;
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
        throw new ServeConfigError(
          field.key,
          `config file ${configPath}`,
          "must be a string, number or boolean",
        );
      }
      apply(settings, field, value, `config file ${configPath}`, origins);
    }
  }
  for (const field of FIELDS) {
    const value = sources.env[field.env];
    if (value !== undefined && value !== "")
      apply(settings, field, value, `environment ${field.env}`, origins);
  }
  for (const field of FIELDS) {
    const value = flags[field.flag];
    if (value !== undefined) apply(settings, field, value, `flag --${field.flag}`, origins);
  }
  return { help: false, config: finish(settings, origins) };
}

function isWildcard(hostPort: string): boolean {
  const { host } = parsePeerAddress(hostPort);
  return host === "0.0.0.0" || host === "::";
}

/** Fills derived defaults and checks settings against each other. */
function finish(s: ServeSettings, origins: Origins): ServeConfig {
  const clientTls = s.clientCertFile !== undefined || s.clientKeyFile !== undefined;
  if (clientTls && (s.clientCertFile === undefined || s.clientKeyFile === undefined)) {
    throw new ServeConfigError(
      "clientCertFile",
      "settings",
      "client TLS needs both a certificate and a key file",
    );
  }
  if (s.clientCaFile !== undefined && !clientTls) {
    throw new ServeConfigError(
      "clientCaFile",
      "settings",
      "needs clientCertFile and clientKeyFile too",
    );
  }
  const peerTls = [s.peerCertFile, s.peerKeyFile, s.peerCaFile].filter((v) => v !== undefined);
  if (peerTls.length !== 0 && peerTls.length !== 3) {
    throw new ServeConfigError(
      "peerCertFile",
      "settings",
      "peer TLS needs peerCertFile, peerKeyFile and peerCaFile",
    );
  }
  if (s.electionMs <= s.heartbeatMs) {
    throw new ServeConfigError(
      "electionMs",
      "settings",
      `must exceed heartbeatMs (${s.heartbeatMs}), got ${s.electionMs}`,
    );
  }
  if (s.headersTimeoutMs > s.requestReceiveTimeoutMs) {
    throw new ServeConfigError(
      "headersTimeoutMs",
      "settings",
      `must not exceed requestReceiveTimeoutMs (${s.requestReceiveTimeoutMs}), got ${s.headersTimeoutMs}`,
    );
  }
  if (s.maxTotalWatchBytes < s.maxWatchBufferBytes) {
    throw new ServeConfigError(
      "maxTotalWatchBytes",
      "settings",
      `must be at least maxWatchBufferBytes (${s.maxWatchBufferBytes}), got ${s.maxTotalWatchBytes}`,
    );
  }
  if (s.advertiseClientUrl === undefined && isWildcard(s.listenClient)) {
    throw new ServeConfigError(
      "advertiseClientUrl",
      "settings",
      `required when listenClient is a wildcard address (${s.listenClient})`,
    );
  }
  if (s.advertiseGrpcUrl === undefined && s.listenGrpc !== undefined && isWildcard(s.listenGrpc)) {
    throw new ServeConfigError(
      "advertiseGrpcUrl",
      "settings",
      `required when listenGrpc is a wildcard address (${s.listenGrpc})`,
    );
  }
  if (s.advertiseGrpcUrl !== undefined && s.listenGrpc === undefined) {
    throw new ServeConfigError("advertiseGrpcUrl", "settings", "needs listenGrpc");
  }
  if (s.advertisePeer === undefined && isWildcard(s.listenPeer)) {
    throw new ServeConfigError(
      "advertisePeer",
      "settings",
      `required when listenPeer is a wildcard address (${s.listenPeer})`,
    );
  }
  if (s.shards > 0 && s.listenGrpc !== undefined) {
    throw new ServeConfigError(
      "listenGrpc",
      "settings",
      "the etcd gRPC API serves one key space: it is not available with shards",
    );
  }
  if (s.shards > 0 && s.listenDns !== undefined) {
    throw new ServeConfigError(
      "listenDns",
      "settings",
      "the DNS view reads one key space: it is not available with shards",
    );
  }
  const advertiseClientUrl =
    s.advertiseClientUrl ?? `${clientTls ? "https" : "http"}://${s.listenClient}`;
  const advertisePeer = s.advertisePeer ?? s.listenPeer;
  const advertiseGrpcUrl =
    s.listenGrpc === undefined
      ? undefined
      : (s.advertiseGrpcUrl ?? `${clientTls ? "https" : "http"}://${s.listenGrpc}`);

  const cluster = s.initialCluster;
  const byName = s.name === undefined ? undefined : cluster?.find((m) => m.name === s.name);
  const byId = s.nodeId === undefined ? undefined : cluster?.find((m) => m.id === s.nodeId);
  if (byName !== undefined && s.nodeId !== undefined && byName.id !== s.nodeId) {
    throw new ServeConfigError(
      "nodeId",
      "settings",
      `is ${s.nodeId} but initialCluster gives ${s.name} id ${byName.id}`,
    );
  }
  if (byId !== undefined && s.name !== undefined && byId.name !== s.name) {
    throw new ServeConfigError(
      "name",
      "settings",
      `is ${s.name} but initialCluster names member ${s.nodeId} ${byId.name}`,
    );
  }
  if (
    cluster !== undefined &&
    cluster.length > 1 &&
    s.name === undefined &&
    s.nodeId === undefined
  ) {
    throw new ServeConfigError(
      "name",
      "settings",
      "set name or nodeId to say which initialCluster member this is",
    );
  }
  const implicit = s.name === undefined && s.nodeId === undefined ? cluster?.[0] : undefined;
  const self = byName ?? byId ?? implicit;
  if (cluster !== undefined && self === undefined && s.nodeId === undefined) {
    throw new ServeConfigError(
      s.join ? "nodeId" : "initialCluster",
      "settings",
      s.join
        ? "required when joining (the id member add gave this member)"
        : `does not list this member (${s.name}); add it or set join`,
    );
  }
  const nodeId = s.nodeId ?? self?.id ?? 1;
  const name = s.name ?? self?.name ?? `node${nodeId}`;
  const initialCluster = cluster ?? [
    { name, id: nodeId, peerAddress: advertisePeer, clientUrl: advertiseClientUrl },
  ];
  const mine = initialCluster.find((m) => m.id === nodeId);
  if (!s.join && mine === undefined) {
    throw new ServeConfigError(
      "initialCluster",
      "settings",
      `does not list this member (${name}, id ${nodeId}); add it or set join`,
    );
  }
  if (!s.join && mine !== undefined && mine.peerAddress !== advertisePeer) {
    throw new ServeConfigError(
      "initialCluster",
      "settings",
      `gives ${name} peer address ${mine.peerAddress}, but this member advertises ${advertisePeer}`,
    );
  }
  const { clusterSecret, peerAuth } = peerAuthentication(s, origins, peerTls.length === 3);
  const autoCompaction = autoCompactionPolicy(
    s.autoCompactionMode,
    s.autoCompactionRetention,
    origins.get("autoCompactionRetention") ?? "settings",
  );
  return {
    ...s,
    name,
    nodeId,
    dataDir: s.dataDir ?? join("data", name),
    advertiseClientUrl,
    advertiseGrpcUrl,
    advertisePeer,
    initialCluster,
    clusterSecret,
    peerAuth,
    autoCompaction,
  };
}

/**
 * Peers must prove a strong secret or present certificates; running without
 * either is a development mode that has to be asked for by name, and only
 * where no other host can reach the peer port.
 */
function peerAuthentication(
  s: ServeSettings,
  origins: Origins,
  peerTls: boolean,
): Pick<ServeConfig, "clusterSecret" | "peerAuth"> {
  const from = (key: keyof ServeSettings): string => origins.get(key) ?? "settings";
  if (s.clusterSecret !== undefined && s.clusterSecretFile !== undefined) {
    throw new ServeConfigError(
      "clusterSecretFile",
      from("clusterSecretFile"),
      `set either clusterSecret (${from("clusterSecret")}) or clusterSecretFile, not both`,
    );
  }
  let secret = s.clusterSecret;
  let field: keyof ServeSettings = "clusterSecret";
  if (s.clusterSecretFile !== undefined) {
    field = "clusterSecretFile";
    try {
      secret = readSecretFile(s.clusterSecretFile);
    } catch (err) {
      if (!(err instanceof ClusterSecretError)) throw err;
      throw new ServeConfigError(field, from(field), err.message);
    }
  }
  if (s.devUnauthenticatedPeers) {
    if (secret !== undefined || peerTls) {
      throw new ServeConfigError(
        "devUnauthenticatedPeers",
        from("devUnauthenticatedPeers"),
        "cannot be combined with a cluster secret or peer TLS",
      );
    }
    if (!isLoopbackHost(parsePeerAddress(s.listenPeer).host)) {
      throw new ServeConfigError(
        "devUnauthenticatedPeers",
        from("devUnauthenticatedPeers"),
        `allowed only with a loopback listenPeer, got ${s.listenPeer} (${from("listenPeer")})`,
      );
    }
    return { clusterSecret: undefined, peerAuth: "none" };
  }
  if (secret === undefined) {
    if (peerTls) return { clusterSecret: undefined, peerAuth: "tls" };
    throw new ServeConfigError(
      "clusterSecret",
      "settings",
      "required: set clusterSecretFile (or CONCLAVE_CLUSTER_SECRET), or peer TLS " +
        "(peerCertFile, peerKeyFile, peerCaFile); `conclave start` makes one for local clusters",
    );
  }
  const problem = weakSecretProblem(secret);
  if (problem !== undefined) throw new ServeConfigError(field, from(field), problem);
  return { clusterSecret: secret, peerAuth: "secret" };
}
