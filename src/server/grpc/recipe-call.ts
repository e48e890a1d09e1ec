import { status as GrpcCode, type ServerUnaryCall, type sendUnaryData } from "@grpc/grpc-js";
import { GrpcCallError, type JsonObject } from "./bridge.js";
import { grpcError } from "./unary.js";

/** A unary call of the lock and election services. */
export type RecipeCall = ServerUnaryCall<JsonObject, JsonObject>;

/** A request refused before it touches the key space. */
export function invalidArgument(details: string): GrpcCallError {
  return new GrpcCallError({ code: GrpcCode.INVALID_ARGUMENT, details }, "INVALID_ARGUMENT");
}

/** A lease id from a request message: a positive int64, or "0" (none) when absent. */
export function leaseOf(message: JsonObject, field: string): string {
  const value = message[field] ?? "0";
  if (typeof value !== "string" || !/^(0|[1-9]\d{0,18})$/.test(value)) {
    throw invalidArgument(`etcdserver: ${field} must be a lease id, got ${String(value)}`);
  }
  if (BigInt(value) > 0x7fff_ffff_ffff_ffffn) {
    throw invalidArgument(`etcdserver: ${field} is out of range`);
  }
  return value;
}

/** A gRPC unary handler answering with what `f` resolves, or its error as etcd's status. */
export function recipeHandler(f: (call: RecipeCall) => Promise<JsonObject>) {
  return (call: RecipeCall, callback: sendUnaryData<JsonObject>): void => {
    f(call).then(
      (reply) => callback(null, reply),
      (err: unknown) => callback(grpcError(err)),
    );
  };
}
