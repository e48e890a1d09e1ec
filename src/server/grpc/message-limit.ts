import type { FastifyInstance } from "fastify";

/**
 * Largest gRPC message either way: a request the HTTP API would take, an
 * answer it would send. Streams that build their own messages (watch) split
 * or refuse what would not fit.
 */
export function messageLimitBytes(app: FastifyInstance): number {
  const limits = app.serverLimits;
  return Math.max(limits.bodyLimitBytes, limits.maxRangeBytes) + 64 * 1024;
}
