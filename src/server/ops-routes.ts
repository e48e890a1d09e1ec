import type { FastifyInstance } from "fastify";
import type { ServerMetrics } from "./metrics.js";
import { UNMATCHED_ROUTE } from "./metrics.js";

/** Levels at which each answer is logged (pino's names). */
const REQUEST_LOG_LEVELS = new Set(["debug", "trace"]);

/**
 * Counts every answer by route pattern and status and, at `--log-level
 * debug`, logs it (method, URL, status, time): one hook for both, and the log
 * line built only when it is written. Must be added before the routes.
 */
export function addRequestObservers(app: FastifyInstance, metrics: ServerMetrics): void {
  app.addHook("onResponse", async (req, reply) => {
    metrics.observeRequest(
      req.method,
      req.routeOptions.url ?? UNMATCHED_ROUTE,
      reply.statusCode,
      reply.elapsedTime,
    );
    if (!REQUEST_LOG_LEVELS.has(req.log.level)) return;
    req.log.debug(
      {
        method: req.method,
        url: req.url,
        statusCode: reply.statusCode,
        responseTimeMs: reply.elapsedTime,
      },
      "request completed",
    );
  });
}

export function registerMetricsRoute(app: FastifyInstance, metrics: ServerMetrics): void {
  app.get(
    "/metrics",
    { schema: { summary: "Prometheus metrics of this node (text exposition format)" } },
    async (_req, reply) => {
      const body = await metrics.text();
      return reply.type(metrics.contentType).send(body);
    },
  );
}
