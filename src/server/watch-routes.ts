import type { FastifyInstance, FastifyReply } from "fastify";
import type { KvStore, WatchOptions } from "../kv/index.js";
import { validateWatchOptions } from "../kv/validate.js";
import { LogThrottle, type WarnSink } from "../log-throttle.js";
import { clientIdentity } from "./client-identity.js";
import { GatewayWatchFrames } from "./gateway-watch-frames.js";
import type { KvAccess } from "./kv-access.js";
import type { Int64Json } from "./kv-schemas.js";
import type { ServerLimits, ServerOptions } from "./options.js";
import { WatchFrameEncoder, type WatchFrames } from "./watch-frames.js";
import { WatchMemory } from "./watch-memory.js";
import { WatchWritePacer } from "./watch-pacer.js";
import { resolveWatchLimits, type WatchLimits, WatchRegistry } from "./watch-registry.js";
import { WatchSession } from "./watch-session.js";
import { bytesSchema, decodeKey, int64Schema, parseInt64 } from "./wire.js";

export interface WatchRequestJson {
  key: string;
  range_end?: string;
  start_revision?: Int64Json;
  prev_kv?: boolean;
  filters?: ("NOPUT" | "NODELETE")[];
  progress_notify?: boolean;
}

export const watchBodySchema = {
  type: "object",
  properties: {
    key: bytesSchema,
    range_end: bytesSchema,
    start_revision: int64Schema,
    prev_kv: { type: "boolean" },
    filters: { type: "array", maxItems: 2, items: { enum: ["NOPUT", "NODELETE"] } },
    progress_notify: { type: "boolean" },
  },
  required: ["key"],
  additionalProperties: false,
} as const;

/**
 * The route's body: Conclave's own (the watch request itself), or etcd's
 * JSON gateway's `{"create_request": {...}}`, which also asks for the
 * gateway's framing (gateway-watch-frames.ts).
 */
export type WatchRouteBody = WatchRequestJson | { create_request: WatchRequestJson };

const watchRouteBodySchema = {
  oneOf: [
    watchBodySchema,
    {
      type: "object",
      properties: { create_request: watchBodySchema },
      required: ["create_request"],
      additionalProperties: false,
    },
  ],
} as const;

/** The watch request a route body carries, and whether it came in etcd's gateway form. */
export function unwrapWatchBody(body: WatchRouteBody): {
  readonly request: WatchRequestJson;
  readonly gateway: boolean;
} {
  return "create_request" in body
    ? { request: body.create_request, gateway: true }
    : { request: body, gateway: false };
}

/** A watch request body (the HTTP route's, or a gRPC create_request) as validated WatchOptions. */
export function watchOptions(body: WatchRequestJson, limits: ServerLimits): WatchOptions {
  const filters = body.filters ?? [];
  const options: WatchOptions = {
    key: decodeKey(body.key, "key", limits),
    ...(body.range_end !== undefined && {
      rangeEnd: decodeKey(body.range_end, "range_end", limits),
    }),
    startRevision: parseInt64(body.start_revision, "start_revision"),
    prevKv: body.prev_kv ?? false,
    noPut: filters.includes("NOPUT"),
    noDelete: filters.includes("NODELETE"),
  };
  validateWatchOptions(options);
  return options;
}

/** What the watch streams of one server hold and how often they were cut (for tests and metrics). */
export interface WatchStats {
  readonly activeStreams: number;
  /** `events` frames encoded: one per distinct event list of a revision, however many streams send it. */
  readonly eventFramesEncoded: number;
  /** Bytes held by watch streams, queued or in their sockets, each shared frame once. */
  readonly heldBytes: number;
  /** Streams ended with WATCH_TOO_SLOW, by which budget they were over. */
  readonly cutOverStreamBudget: number;
  readonly cutOverTotalBudget: number;
}

/**
 * The watch machinery of one server, shared by the HTTP route and the gRPC
 * Watch service: one registry (so the watcher limits count both), one
 * memory budget, one frame numbering.
 */
export interface WatchParts {
  readonly registry: WatchRegistry;
  readonly limits: WatchLimits;
  readonly frames: WatchFrameEncoder;
  readonly memory: WatchMemory;
  /** Hands queued frames to sockets a bounded number of bytes per event-loop turn. */
  readonly pacer: WatchWritePacer;
  /** Counts, logs (throttled) and reports a stream cut for reading too slowly. */
  readonly tooSlow: (
    reason: "stream" | "total",
    client: string,
    heldBytes: number,
    maxBytes: number,
  ) => void;
  readonly stats: () => WatchStats;
}

const parts = new WeakMap<FastifyInstance, WatchParts>();

/** A few milliseconds of kernel copies per event-loop turn (about 10 GB/s measured on loopback). */
const WRITE_BYTES_PER_TURN = 16 * 1024 * 1024;

/** The open-watch registry of a server built by createServer (for metrics). */
export function watchRegistryOf(app: FastifyInstance): WatchRegistry | undefined {
  return parts.get(app)?.registry;
}

export function watchStatsOf(app: FastifyInstance): WatchStats | undefined {
  return parts.get(app)?.stats();
}

/** The watch machinery of a server built by createServer (for the gRPC Watch service). */
export function watchPartsOf(app: FastifyInstance): WatchParts | undefined {
  return parts.get(app);
}

/** What the watch machinery reports to a server's metrics (ServerMetrics has these). */
export interface WatchMetricsSink {
  watchFrameEncoded(): void;
  watchStreamCut(budget: "stream" | "total"): void;
  setWatchBufferedBytes(bytes: () => number): void;
}

/** Metrics for a server that keeps none (the sharded member). */
export const NO_WATCH_METRICS: WatchMetricsSink = {
  watchFrameEncoded: () => {},
  watchStreamCut: () => {},
  setWatchBufferedBytes: () => {},
};

/**
 * The watch machinery of one server: its registry, memory budget, frame
 * encoder and write pacer, and the throttled warning for streams cut for
 * reading too slowly. The unsharded server builds one (registerWatchRoutes);
 * the sharded member builds one for the watches of all its replicas.
 */
export function createWatchParts(
  log: WarnSink,
  watchLimits: WatchLimits,
  metrics: WatchMetricsSink,
): WatchParts {
  const registry = new WatchRegistry(watchLimits);
  const frames = new WatchFrameEncoder(() => metrics.watchFrameEncoded());
  const memory = new WatchMemory(watchLimits.maxTotalWatchBytes);
  const pacer = new WatchWritePacer(WRITE_BYTES_PER_TURN);
  // Any client can make its streams be cut, as often as it likes.
  const warnings = new LogThrottle(log);
  let cutOverStreamBudget = 0;
  metrics.setWatchBufferedBytes(() => memory.heldBytes);
  const tooSlow = (
    reason: "stream" | "total",
    client: string,
    heldBytes: number,
    maxBytes: number,
  ): void => {
    if (reason === "stream") cutOverStreamBudget++;
    metrics.watchStreamCut(reason);
    warnings.warn(
      `watch-too-slow-${reason}`,
      { client, heldBytes, maxBytes },
      reason === "stream"
        ? "watch stream cut: its client read too slowly for its buffer budget"
        : "watch stream cut: the watch streams together were over their memory budget",
    );
  };
  return {
    registry,
    limits: watchLimits,
    frames,
    memory,
    pacer,
    tooSlow,
    stats: () => ({
      activeStreams: registry.activeCount,
      eventFramesEncoded: frames.eventFramesEncoded,
      heldBytes: memory.heldBytes,
      cutOverStreamBudget,
      cutOverTotalBudget: memory.cutCount,
    }),
  };
}

/** What one watch stream is: what it watches, on which store, framed how. */
export interface WatchStreamSpec {
  readonly store: KvStore;
  readonly watch: WatchOptions;
  readonly progressNotify: boolean;
  readonly frames: WatchFrames;
  /** The clientIdentity key the stream counts under. */
  readonly client: string;
  /** Called once when the stream ends, however it ends. */
  readonly onEnd?: () => void;
}

/**
 * Answers `reply` with a watch stream: refused with an ordinary JSON error
 * (TOO_MANY_WATCHERS) while no byte of the stream is out, else hijacked and
 * streamed until the client, the store or the server ends it.
 */
export function openWatchStream(
  reply: FastifyReply,
  parts: WatchParts,
  spec: WatchStreamSpec,
): WatchSession {
  const { registry, limits: watchLimits, memory, pacer } = parts;
  registry.checkAdmission(spec.client);
  reply.hijack();
  const session: WatchSession = new WatchSession(reply.raw, spec.store, {
    maxBufferBytes: watchLimits.maxWatchBufferBytes,
    keepAliveMs: watchLimits.watchKeepAliveMs,
    progressIntervalMs: watchLimits.watchProgressIntervalMs,
    progressNotify: spec.progressNotify,
    endGraceMs: watchLimits.watchEndGraceMs,
    frames: spec.frames,
    memory,
    pacer,
    onEnd: () => {
      registry.remove(session);
      spec.onEnd?.();
    },
    onTooSlow: (reason, heldBytes, maxBytes) =>
      parts.tooSlow(reason, spec.client, heldBytes, maxBytes),
  });
  registry.add(session, spec.client);
  session.start(spec.watch);
  return session;
}

/**
 * `POST /v3/watch`: a server-sent-event stream of this node's applied
 * changes. Watches are local: a follower serves them from its own state.
 */
export function registerWatchRoutes(
  app: FastifyInstance,
  kv: KvAccess,
  limits: ServerLimits,
  options: ServerOptions,
): WatchRegistry {
  const watchParts = createWatchParts(app.log, resolveWatchLimits(options), app.serverMetrics);
  const { registry, frames } = watchParts;
  parts.set(app, watchParts);
  app.addHook("preClose", async () => {
    registry.closeAll("SERVER_CLOSING", "the server is shutting down; resume on another node");
  });

  const gatewayFrames = new GatewayWatchFrames(frames, (revision) => app.responseHeader(revision));
  app.post<{ Body: WatchRouteBody }>(
    "/v3/watch",
    { schema: { body: watchRouteBodySchema } },
    async (req, reply) => {
      const { request, gateway } = unwrapWatchBody(req.body);
      const watch = watchOptions(request, limits);
      openWatchStream(reply, watchParts, {
        store: kv.store,
        watch,
        progressNotify: request.progress_notify ?? false,
        frames: gateway ? gatewayFrames : frames,
        client: clientIdentity(req.authUser, req.socket.remoteAddress),
      });
      return reply;
    },
  );
  return registry;
}
