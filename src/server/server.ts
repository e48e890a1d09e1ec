import Fastify, { type FastifyInstance, LogController } from "fastify";
import { AutoCompaction, replicaCompactionSources } from "../kv/index.js";
import { addAuthHooks } from "./auth-hook.js";
import { resolveAuthOptions } from "./auth-options.js";
import { registerAuthRoutes } from "./auth-routes.js";
import { httpTimeoutOptions, resolveClientConnections } from "./client-connections.js";
import { registerClusterRoutes } from "./cluster-routes.js";
import { ClientConnectionGate } from "./connection-limits.js";
import "./decorations.js";
import { errorReply, isServerFault } from "./error-reply.js";
import { addTypelessJsonBodies } from "./gateway-body.js";
import { addGatewayEnumNames } from "./gateway-enums.js";
import { gatewayPath } from "./gateway-paths.js";
import { registerHealthRoutes } from "./health-routes.js";
import { addHostCheck } from "./host-check.js";
import { InProcessIdentity } from "./in-process-identity.js";
import { KvAccess } from "./kv-access.js";
import { registerKvBatchRoute } from "./kv-batch.js";
import { registerKvRoutes } from "./kv-routes.js";
import { registerKvValueRoute } from "./kv-value.js";
import { LeaderClient } from "./leader-client.js";
import {
  addLeaderForwarding,
  LeaderForwarder,
  relayAnswer,
  resolveMaxLeaderForwards,
} from "./leader-forward.js";
import { registerLeaseRoutes } from "./lease-routes.js";
import { registerMaintenanceRoutes } from "./maintenance-routes.js";
import { createServerMetrics } from "./metrics.js";
import { registerOpenApi } from "./openapi.js";
import { addRequestObservers, registerMetricsRoute } from "./ops-routes.js";
import { resolveLimits, type ServerOptions } from "./options.js";
import { addRefusalHook } from "./refusal-hook.js";
import { addRequestDepthLimit } from "./request-depth.js";
import { addResponseHeaderIdentity } from "./response-header.js";
import { routeAccessTable } from "./route-access.js";
import { serverWarnings } from "./security-warnings.js";
import { STRICT_JSON_OPTIONS } from "./strict-json.js";
import { registerDashboardRoutes } from "./ui-routes.js";
import { registerWatchRoutes } from "./watch-routes.js";

/**
 * Builds the client API over one node and its key space. The caller owns the
 * node and store, and decides where (or whether) to listen.
 */
export function createServer(options: ServerOptions): FastifyInstance {
  const limits = resolveLimits(options);
  const connections = resolveClientConnections(options.clientConnections);
  const timeouts = httpTimeoutOptions(connections);
  const auth = resolveAuthOptions(options);
  const app = Fastify({
    ...(options.loggerInstance === undefined
      ? { logger: options.logger ?? false }
      : { loggerInstance: options.loggerInstance }),
    ...(options.https === undefined
      ? { http: timeouts }
      : { https: { ...httpsOptions(options.https), ...timeouts } }),
    keepAliveTimeout: timeouts.keepAliveTimeout,
    requestTimeout: timeouts.requestTimeout,
    connectionTimeout: connections.idleTimeoutMs,
    bodyLimit: limits.bodyLimitBytes,
    // One line per request at info would drown a busy member's log: requests are
    // logged at debug by addRequestObservers instead.
    logController: new LogController({ disableRequestLogging: true }),
    rewriteUrl: (req) => gatewayPath(req.url ?? "/"),
    ...STRICT_JSON_OPTIONS,
  }) as unknown as FastifyInstance;
  const metrics = options.metrics ?? createServerMetrics();
  const gate = new ClientConnectionGate(connections, app.log, (reason) =>
    metrics.defences.connectionRefused(reason),
  );
  gate.attach(app.server);
  metrics.defences.setOpenConnections(() => gate.openConnections);
  const kv = new KvAccess(options.node, options.store, limits);
  // Without a static map, leader URLs come from the member metadata replicated in the store.
  const leaderUrls = options.clientUrls ?? {
    get: (id: number) => options.store.members.clientUrl(id),
  };
  addHostCheck(app, options.allowedHosts ?? []);
  // First, so every route added after it (here or by later code) is documented and counted.
  registerOpenApi(app);
  metrics.bindSources({
    node: options.node,
    store: options.store,
    quotaBytes: limits.quotaBackendBytes,
  });
  addRequestObservers(app, metrics);
  addResponseHeaderIdentity(app, options.node, options.clusterId);
  addRequestDepthLimit(app, limits.maxRequestDepth);
  addGatewayEnumNames(app);
  addTypelessJsonBodies(app);
  app.decorate("serverMetrics", metrics);
  app.decorate("kvAccess", kv);
  app.decorate("inProcessIdentity", new InProcessIdentity());
  app.decorate("serverLimits", limits);
  app.decorate("securityWarnings", serverWarnings(app, options));
  const expiry = kv.replica.leaseExpiry({
    ...options.leaseExpiry,
    onExpired: () => metrics.leaseExpired(),
  });
  app.decorate("leaseExpiry", expiry);
  app.addHook("onReady", async () => expiry.start());
  app.addHook("onClose", async () => expiry.stop());
  if (options.autoCompaction !== undefined) {
    const { clock, ...policy } = options.autoCompaction;
    const compaction = new AutoCompaction(replicaCompactionSources(kv.replica), {
      policy,
      ...(clock !== undefined && { clock }),
      onError: (err) => app.log.warn({ err }, "auto-compaction failed; retrying later"),
    });
    app.addHook("onReady", async () => compaction.start());
    app.addHook("onClose", async () => compaction.stop());
  }

  // A follower sends what only the leader can do on to it (leader-forward.ts).
  const maxLeaderForwards = resolveMaxLeaderForwards(options.maxLeaderForwards);
  const leaderClient = new LeaderClient({
    tls: options.https ?? {},
    maxSockets: Math.max(1, maxLeaderForwards),
    maxAnswerBytes: 2 * limits.maxRangeBytes + limits.bodyLimitBytes,
  });
  const forwarder = new LeaderForwarder({
    node: options.node,
    leaderUrls,
    client: leaderClient,
    signer: { selfId: options.node.id, memberTokenKey: auth.memberTokenKey, nowMs: auth.nowMs },
    timeoutMs: limits.requestTimeoutMs,
    maxInFlight: maxLeaderForwards,
    onOutcome: (outcome) => metrics.leaderForward(outcome),
  });
  addLeaderForwarding(app, forwarder, leaderClient);

  app.setErrorHandler(async (err, req, reply) => {
    let failure: unknown = err;
    try {
      const answer = await forwarder.tryForward(err, req);
      if (answer !== undefined) return relayAnswer(reply, answer);
    } catch (forwardErr) {
      failure = forwardErr;
    }
    const { statusCode, body } = errorReply(failure, leaderUrls);
    if (isServerFault(statusCode)) {
      req.log.error({ err: failure }, "request failed");
    }
    return reply.status(statusCode).send(body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({
      code: "ROUTE_NOT_FOUND",
      message: `no route ${req.method} ${req.url.slice(0, 200)}`,
    }),
  );

  addRefusalHook(app, metrics.defences);
  // Before the routes: every route, whoever adds it, passes the identity and access checks.
  addAuthHooks(app, kv, routeAccessTable(kv, limits), auth, options.https?.ca !== undefined);
  registerAuthRoutes(app, kv, auth);
  registerKvRoutes(app, kv, limits);
  registerKvBatchRoute(app, kv, limits, leaderUrls, metrics);
  registerKvValueRoute(app, kv, limits);
  registerLeaseRoutes(app, kv, expiry);
  registerHealthRoutes(app, kv);
  registerClusterRoutes(app, kv, limits, options);
  registerMaintenanceRoutes(app, kv, limits);
  registerMetricsRoute(app, metrics);
  const watches = registerWatchRoutes(app, kv, limits, options);
  metrics.setActiveWatchers(() => watches.activeCount);
  registerDashboardRoutes(app, kv);
  return app;
}

function httpsOptions(tls: NonNullable<ServerOptions["https"]>) {
  return tls.ca === undefined
    ? { cert: tls.cert, key: tls.key }
    : { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true };
}
