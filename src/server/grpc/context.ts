import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { KvAccess } from "../kv-access.js";
import type { ServerLimits } from "../options.js";
import type { RouteBridge } from "./bridge.js";

/** What every gRPC service of a member is built from. */
export interface GrpcContext {
  /** The member's HTTP API: unary calls are answered by its routes (bridge.ts). */
  readonly app: FastifyInstance;
  readonly bridge: RouteBridge;
  /** The key space, for the streaming calls that do not map onto one route. */
  readonly kv: KvAccess;
  readonly limits: ServerLimits;
  readonly log: FastifyBaseLogger;
  /** Aborted when the API starts to close: long-lived streams end rather than wait to be cut. */
  readonly closing: AbortSignal;
}
