import type { LeaseExpiry } from "../kv/index.js";
import type { ServerMetrics } from "./metrics.js";

/** What createServer hangs on the fastify instance for routes added later (and for tests). */
declare module "fastify" {
  interface FastifyInstance {
    /** The leader-side lease expiry loop of this server. */
    leaseExpiry: LeaseExpiry;
    /** This server's metrics; the watch route reports its open streams through it. */
    serverMetrics: ServerMetrics;
    /** Insecure ways this member is served right now (security-warnings.ts); empty when none. */
    securityWarnings: () => string[];
  }
}
