import {
  status as GrpcCode,
  type Metadata,
  type ServerUnaryCall,
  type sendUnaryData,
  type UntypedHandleCall,
} from "@grpc/grpc-js";
import { errorReply } from "../error-reply.js";
import { GrpcCallError, type JsonObject, type RouteBridge } from "./bridge.js";
import { etcdStatus } from "./status.js";

/** How one unary RPC maps onto the HTTP route that implements it. */
export interface UnaryRoute {
  readonly path: string;
  /** The route's JSON body from the request message; the message itself by default. */
  readonly request?: (message: JsonObject) => unknown;
  /** The response message from the route's JSON answer; the answer itself by default. */
  readonly response?: (answer: JsonObject, message: JsonObject) => JsonObject;
}

export type UnaryCall = ServerUnaryCall<JsonObject, JsonObject>;

/**
 * A unary handler from an async function: what it resolves with is the
 * answer, what it throws (synchronously too) is mapped to etcd's status.
 */
export function unaryCall(answer: (call: UnaryCall) => Promise<JsonObject>): UntypedHandleCall {
  return (call: UnaryCall, callback: sendUnaryData<JsonObject>) => {
    Promise.resolve()
      .then(() => answer(call))
      .then(
        (reply) => callback(null, reply),
        (err: unknown) => callback(grpcError(err)),
      );
  };
}

/** A gRPC unary handler that answers through `route`. */
export function unaryHandler(bridge: RouteBridge, route: UnaryRoute): UntypedHandleCall {
  return unaryCall(async (call) => {
    const message = call.request ?? {};
    const body = route.request === undefined ? message : route.request(message);
    const answer = await bridge.post(route.path, body, call);
    return route.response === undefined ? answer : route.response(answer, message);
  });
}

/** Handlers for a service: one per RPC name. */
export function unaryHandlers(
  bridge: RouteBridge,
  routes: Readonly<Record<string, UnaryRoute>>,
): Record<string, UntypedHandleCall> {
  const handlers: Record<string, UntypedHandleCall> = {};
  for (const [name, route] of Object.entries(routes)) handlers[name] = unaryHandler(bridge, route);
  return handlers;
}

/**
 * What a handler hands grpc-js on failure: etcd's status for a bridged
 * answer or a typed Conclave error (mapped as the HTTP API maps it), and
 * INTERNAL for anything else.
 */
export function grpcError(err: unknown): { code: GrpcCode; details: string; metadata?: Metadata } {
  if (err instanceof GrpcCallError) return { code: err.code, details: err.details };
  const { statusCode, body } = errorReply(err);
  if (statusCode === 500) return { code: GrpcCode.INTERNAL, details: "etcdserver: internal error" };
  return etcdStatus(body.code, body.message, statusCode);
}
