import {
  status as GrpcCode,
  type ServerUnaryCall,
  type sendUnaryData,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { GrpcCallError, type JsonObject } from "./bridge.js";
import type { GrpcContext } from "./context.js";
import { grantBody, heldLeaseId, minLeaseTtlSeconds } from "./lease-ids.js";
import { leaseKeepAliveHandler } from "./lease-keepalive.js";
import { grpcError, unaryHandler } from "./unary.js";

type Unary = (
  call: ServerUnaryCall<JsonObject, JsonObject>,
  callback: sendUnaryData<JsonObject>,
) => void;

/**
 * etcd's Lease service over the HTTP lease routes: the messages are the
 * routes' bodies (ID, TTL, grantedTTL, keys as base64). What etcd answers
 * that the routes do not is done here: a TTL below the minimum is raised,
 * an unknown lease has TTL -1 in LeaseTimeToLive and TTL 0 in keep-alive,
 * and ids Conclave cannot hold (0, negative, 2^53 and above) are unknown.
 */
export function leaseService(ctx: GrpcContext): UntypedServiceImplementation {
  const minTtl = minLeaseTtlSeconds(ctx.kv.node.electionTimeoutMs);
  const answer = (
    path: string,
    body: JsonObject,
    call: ServerUnaryCall<JsonObject, JsonObject>,
    callback: sendUnaryData<JsonObject>,
  ) =>
    ctx.bridge.post(path, body, call).then(
      (reply) => callback(null, reply),
      (err: unknown) => callback(grpcError(err)),
    );
  const notFound = () => grpcError(new GrpcCallError(notFoundStatus, "KV_LEASE_NOT_FOUND"));
  return {
    LeaseGrant: ((call, callback) => {
      let body: JsonObject;
      try {
        body = grantBody(call.request ?? {}, minTtl);
      } catch (err) {
        callback(grpcError(err));
        return;
      }
      void answer("/v3/lease/grant", body, call, callback);
    }) satisfies Unary,
    LeaseRevoke: ((call, callback) => {
      const id = heldLeaseId(call.request?.["ID"]);
      if (id === undefined) callback(notFound());
      else void answer("/v3/lease/revoke", { ID: id }, call, callback);
    }) satisfies Unary,
    LeaseTimeToLive: ((call, callback) => {
      const message = call.request ?? {};
      const requested = String(message["ID"] ?? "0");
      const expired = (): JsonObject => ({
        header: ctx.app.responseHeader(ctx.kv.store.revision),
        ID: requested,
        TTL: "-1",
      });
      const id = heldLeaseId(requested);
      if (id === undefined) {
        callback(null, expired());
        return;
      }
      const body = { ID: id, ...(message["keys"] === true && { keys: true }) };
      ctx.bridge.post("/v3/lease/timetolive", body, call).then(
        (answer) => callback(null, answer),
        (err: unknown) =>
          err instanceof GrpcCallError && err.conclaveCode === "KV_LEASE_NOT_FOUND"
            ? callback(null, expired())
            : callback(grpcError(err)),
      );
    }) satisfies Unary,
    LeaseLeases: unaryHandler(ctx.bridge, { path: "/v3/lease/leases", request: () => ({}) }),
    LeaseKeepAlive: leaseKeepAliveHandler(ctx),
  } satisfies Record<string, UntypedHandleCall>;
}

const notFoundStatus = {
  code: GrpcCode.NOT_FOUND,
  details: "etcdserver: requested lease not found",
} as const;
