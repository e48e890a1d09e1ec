import type { FastifyInstance } from "fastify";
import type { ServerMetrics } from "./metrics.js";
import { UNMATCHED_ROUTE } from "./metrics.js";

/** Counts every answer by route pattern and status; must be added before the routes. */
export function addRequestMetrics(app: FastifyInstance, metrics: ServerMetrics): void {
  app.addHook("onResponse", async (req, reply) => {
    metrics.observeRequest(
      req.method,
      req.routeOptions.url ?? UNMATCHED_ROUTE,
      reply.statusCode,
      reply.elapsedTime,
    );
  });
}

/** Logs each answer at debug (`--log-level debug`): method, route, status and time. */
export function addRequestLog(app: FastifyInstance): void {
  app.addHook("onResponse", async (req, reply) => {
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
