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
