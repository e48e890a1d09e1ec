import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { type Logger, pino } from "pino";
import { KvStore } from "../../kv/index.js";
import { RaftNode } from "../../raft/node/index.js";
import { parsePeerAddress } from "../../raft/transport/index.js";
import type { GrpcApi } from "../grpc/grpc-server.js";
import { createServerMetrics } from "../metrics.js";
import type { ServerOptions } from "../options.js";
import { securityWarnings } from "../security-warnings.js";
import { createServer } from "../server.js";
import {
  clientConnectionSettings,
  createTransport,
  memberCredentialKey,
  nodeOptions,
  openStorage,
  serverOptions,
} from "./assemble.js";
import type { ServeConfig } from "./config.js";
import { openKvBackend } from "./kv-backend.js";
import { MemberPublisher } from "./member-publisher.js";
import { chooseClientConnections, raiseOpenFileLimit } from "./open-file-limit.js";

/** What the ready line reports; `start` and tests read it. */
export interface ReadyInfo {
  readonly ready: true;
  readonly name: string;
  readonly id: number;
  readonly pid: number;
  readonly clientUrl: string;
  /** The web dashboard every member serves (docs/dashboard.md). */
  readonly dashboardUrl: string;
  readonly peer: string;
  readonly dataDir: string;
}

export interface RunningServer {
  readonly info: ReadyInfo;
  /** Stops accepting, closes the API (ending open streams), stops the node; idempotent. */
  stop(): Promise<void>;
  /** Settles with a non-zero exit code if the node fails on its own. */
  readonly failed: Promise<number>;
  /** This member's copy of the key space, for views served beside the API (local reads only). */
  readonly store: KvStore;
  readonly log: Logger;
}

/** Open streams (watches) get this long to end after close before their sockets are cut. */
const CLOSE_GRACE_MS = 2000;
/** The exit code of a process whose node stopped on a fatal error (as sysexits' EX_SOFTWARE). */
export const EXIT_NODE_FAILED = 70;

export async function runServe(config: ServeConfig): Promise<RunningServer> {
  const log = pino(
    { level: config.logLevel, base: { name: config.name, id: config.nodeId } },
    pino.destination({ fd: 2, sync: true }),
  );
  // An unauthenticated peer port is warned about with the other insecure modes, once serving.
  if (config.peerAuth === "tls") {
    log.info("no cluster secret: peers are authenticated by their TLS certificates alone");
  }
  // Before anything opens a file, so every later open (and the limits below) sees the raised limit.
  const fdLimits = await raiseOpenFileLimit(log);
  const clientConnections = chooseClientConnections(
    clientConnectionSettings(config),
    fdLimits,
    log,
  );
  await mkdir(config.dataDir, { recursive: true });
  const storage = await openStorage(config);
  log.info({ dataDir: config.dataDir, recovery: storage.recovery }, "storage opened");
  const transport = await createTransport(config, log.child({ component: "transport" }));
  const backend = openKvBackend(config, join(config.dataDir, "kv"));
  const store = new KvStore({ maxTxnRangeBytes: config.maxRangeBytes, backend });
  log.info({ kvBackend: backend.kind, appliedIndex: store.appliedIndex }, "key space opened");
  let reportFailure: (code: number) => void = () => {};
  const failed = new Promise<number>((resolve) => {
    reportFailure = resolve;
  });
  // Before the node, so its persist, apply and proposal timings are counted from the start.
  // A member process samples its event loop (a stall, a snapshot, a GC pause shows on
  // /metrics) and reports its process figures: it is the only node in its process.
  const metrics = createServerMetrics({ eventLoopDelay: true, processMetrics: true });
  const node = await RaftNode.start(
    nodeOptions(config, {
      observer: metrics.nodeObserver,
      storage,
      transport,
      store,
      logger: log.child({ component: "raft" }),
      onFatal: (err) => {
        log.fatal({ err }, "raft node stopped on a fatal error");
        reportFailure(EXIT_NODE_FAILED);
      },
    }),
  );
  let app: FastifyInstance | undefined;
  let grpc: GrpcApi | undefined;
  let publisher: MemberPublisher | undefined;
  let stopping: Promise<void> | undefined;
  let https: ServerOptions["https"];
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      publisher?.stop();
      // Both at once: closing the app ends every watch (HTTP and gRPC, one
      // registry), so gRPC's grace period is not spent waiting on them.
      const grpcClosed = grpc?.close();
      if (app !== undefined) {
        const cut = setTimeout(() => app?.server.closeAllConnections?.(), CLOSE_GRACE_MS);
        await app.close();
        clearTimeout(cut);
      }
      await grpcClosed;
      await node.stop();
      await backend.close();
      metrics.close();
      log.info("stopped");
    })();
    return stopping;
  };
  try {
    const options = await serverOptions(config, {
      node,
      store,
      logger: log.child({ component: "http" }),
      clientConnections,
    });
    https = options.https;
    app = createServer({ ...options, metrics });
    const listen = parsePeerAddress(config.listenClient);
    await app.listen({ host: listen.host, port: listen.port });
    if (config.listenGrpc !== undefined) {
      const at = parsePeerAddress(config.listenGrpc);
      // Loaded only when asked for: gRPC's modules cost every start a fifth of a second.
      const { GrpcApi } = await import("../grpc/grpc-server.js");
      grpc = await GrpcApi.listen(app, {
        host: at.host,
        port: at.port,
        ...(options.https !== undefined && { tls: options.https }),
        closeGraceMs: CLOSE_GRACE_MS,
      });
      log.info({ listenGrpc: `${at.host}:${grpc.port}` }, "etcd gRPC API listening");
      const grpcWarnings = securityWarnings({
        clientAddress: { host: at.host, port: grpc.port },
        clientTls: options.https !== undefined,
        clientCertificates: options.https?.ca !== undefined,
        authEnabled: store.auth.enabled,
        peer: undefined,
        clientProtocol: "gRPC",
      });
      for (const warning of grpcWarnings) log.warn({ insecure: true }, warning);
    }
    // Insecure modes are allowed when chosen, never silent.
    for (const warning of app.securityWarnings()) log.warn({ insecure: true }, warning);
  } catch (err) {
    await stop();
    throw err;
  }
  const self = {
    id: config.nodeId,
    name: config.name,
    peerUrls: [config.advertisePeer],
    clientUrls: [config.advertiseClientUrl],
    grpcUrls: config.advertiseGrpcUrl === undefined ? [] : [config.advertiseGrpcUrl],
  };
  const founders = config.initialCluster.map((m) => ({
    id: m.id,
    name: m.name,
    peerUrls: [m.peerAddress],
    clientUrls: m.clientUrl === undefined ? [] : [m.clientUrl],
  }));
  const memberKey = memberCredentialKey(config);
  publisher = new MemberPublisher({
    node,
    store,
    self,
    founders,
    log,
    intervalMs: config.heartbeatMs * 2,
    timeoutMs: config.requestTimeoutMs,
    tls: https ?? {},
    ...(memberKey !== undefined && { memberTokenKey: memberKey }),
  });
  const info: ReadyInfo = {
    ready: true,
    name: config.name,
    id: config.nodeId,
    pid: process.pid,
    clientUrl: config.advertiseClientUrl,
    dashboardUrl: `${config.advertiseClientUrl}/ui`,
    peer: config.advertisePeer,
    dataDir: config.dataDir,
  };
  log.info(info, "serving");
  return { info, stop, failed, store, log };
}
