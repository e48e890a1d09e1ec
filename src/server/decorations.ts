import type { LeaseExpiry } from "../kv/index.js";
import type { InProcessIdentity } from "./in-process-identity.js";
import type { KvAccess } from "./kv-access.js";
import type { ServerMetrics } from "./metrics.js";
import type { ServerLimits } from "./options.js";
import type { ResponseHeaderJson } from "./response-header.js";

/** What createServer hangs on the fastify instance for routes added later (and for tests). */
declare module "fastify" {
  interface FastifyInstance {
    /** The leader-side lease expiry loop of this server. */
    leaseExpiry: LeaseExpiry;
    /** This server's metrics; the watch route reports its open streams through it. */
    serverMetrics: ServerMetrics;
    /** The key space as the routes reach it (the gRPC API's streams use it directly). */
    kvAccess: KvAccess;
    /** Certificate identities of calls answered in process (the gRPC API's). */
    inProcessIdentity: InProcessIdentity;
    /** The limits every request is held to. */
    serverLimits: ServerLimits;
    /** etcd's full ResponseHeader at `revision`, for answers made outside a route. */
    responseHeader: (revision: number) => ResponseHeaderJson;
    /** Insecure ways this member is served right now (security-warnings.ts); empty when none. */
    securityWarnings: () => string[];
  }
}
