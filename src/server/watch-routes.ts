import type { FastifyInstance } from "fastify";
import type { WatchOptions } from "../kv/index.js";
import { validateWatchOptions } from "../kv/validate.js";
import { clientIdentity } from "./client-identity.js";
import type { KvAccess } from "./kv-access.js";
import type { Int64Json } from "./kv-schemas.js";
import type { ServerLimits, ServerOptions } from "./options.js";
import { resolveWatchLimits, WatchRegistry } from "./watch-registry.js";
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

function watchOptions(body: WatchRequestJson, limits: ServerLimits): WatchOptions {
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

const registries = new WeakMap<FastifyInstance, WatchRegistry>();

/** The open-watch registry of a server built by createServer (for metrics). */
export function watchRegistryOf(app: FastifyInstance): WatchRegistry | undefined {
  return registries.get(app);
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
  const watchLimits = resolveWatchLimits(options);
  const registry = new WatchRegistry(watchLimits);
  registries.set(app, registry);
  app.addHook("preClose", async () => {
    registry.closeAll("SERVER_CLOSING", "the server is shutting down; resume on another node");
  });

  app.post<{ Body: WatchRequestJson }>(
    "/v3/watch",
    { schema: { body: watchBodySchema } },
    async (req, reply) => {
      const watch = watchOptions(req.body, limits);
      const client = clientIdentity(req.authUser, req.socket.remoteAddress);
      // Refused with an ordinary JSON error while no byte of the stream is out.
      registry.checkAdmission(client);
      reply.hijack();
      const session: WatchSession = new WatchSession(reply.raw, kv.store, {
        maxBufferBytes: watchLimits.maxWatchBufferBytes,
        keepAliveMs: watchLimits.watchKeepAliveMs,
        progressIntervalMs: watchLimits.watchProgressIntervalMs,
        progressNotify: req.body.progress_notify ?? false,
        onEnd: () => registry.remove(session),
      });
      registry.add(session, client);
      session.start(watch);
      return reply;
    },
  );
  return registry;
}
