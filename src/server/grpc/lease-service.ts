import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { GrpcCallError, type JsonObject } from "./bridge.js";
import { authorizeCall } from "./call-auth.js";
import type { GrpcContext } from "./context.js";
import { heldId } from "./held-id.js";
import { GrpcLeaseNotFoundError, grantBody, minLeaseTtlSeconds } from "./lease-ids.js";
import { leaseKeepAliveHandler } from "./lease-keepalive.js";
import { type UnaryCall, unaryCall, unaryHandler } from "./unary.js";

/**
 * etcd's Lease service over the HTTP lease routes: the messages are the
 * routes' bodies (ID, TTL, grantedTTL, keys as base64). What etcd answers
 * that the routes do not is done here: a TTL below the minimum is raised,
 * an unknown lease has TTL -1 in LeaseTimeToLive and TTL 0 in keep-alive,
 * and ids Conclave cannot hold (0, negative, 2^53 and above) are unknown.
 */
export function leaseService(ctx: GrpcContext): UntypedServiceImplementation {
  const minTtl = minLeaseTtlSeconds(ctx.kv.node.electionTimeoutMs);
  /** A call naming a lease no route could find: the caller must still be let in. */
  const unknownLease = (call: UnaryCall) => authorizeCall(ctx.kv, call.metadata, "authenticated");
  const expired = (requested: unknown): JsonObject => ({
    header: ctx.app.responseHeader(ctx.kv.store.revision),
    ID: String(requested ?? "0"),
    TTL: "-1",
  });
  return {
    LeaseGrant: unaryCall(async (call) =>
      ctx.bridge.post("/v3/lease/grant", grantBody(call.request ?? {}, minTtl), call),
    ),
    LeaseRevoke: unaryCall(async (call) => {
      const id = heldId(call.request?.["ID"]);
      if (id !== undefined) return ctx.bridge.post("/v3/lease/revoke", { ID: id }, call);
      await unknownLease(call);
      throw new GrpcLeaseNotFoundError();
    }),
    LeaseTimeToLive: unaryCall(async (call) => {
      const message = call.request ?? {};
      const id = heldId(message["ID"]);
      if (id === undefined) {
        await unknownLease(call);
        return expired(message["ID"]);
      }
      const body = { ID: id, ...(message["keys"] === true && { keys: true }) };
      try {
        return await ctx.bridge.post("/v3/lease/timetolive", body, call);
      } catch (err) {
        if (err instanceof GrpcCallError && err.conclaveCode === "KV_LEASE_NOT_FOUND") {
          return expired(message["ID"]);
        }
        throw err;
      }
    }),
    LeaseLeases: unaryHandler(ctx.bridge, { path: "/v3/lease/leases", request: () => ({}) }),
    LeaseKeepAlive: leaseKeepAliveHandler(ctx),
  };
}
