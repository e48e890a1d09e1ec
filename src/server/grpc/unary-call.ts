import type { ServerUnaryCall, sendUnaryData, UntypedHandleCall } from "@grpc/grpc-js";
import type { JsonObject } from "./bridge.js";
import { grpcError } from "./unary.js";

export type UnaryCall = ServerUnaryCall<JsonObject, JsonObject>;

/**
 * A unary handler from an async function: what it resolves with is the
 * answer, what it throws (synchronously too) is mapped to etcd's status.
 * For the RPCs that are more than one route call.
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

/**
 * An id from a request message (int64 or uint64, decoded as a decimal
 * string) as Conclave can hold it: 1 ≤ id < 2^53, since the store keeps ids
 * as numbers. Undefined for 0, negative ids and ids at or above 2^53: nothing
 * here can have one, so a call naming one gets etcd's answer for an unknown id.
 */
export function heldId(value: unknown): string | undefined {
  if (typeof value !== "string" && typeof value !== "number") return undefined;
  const text = String(value);
  if (!/^[0-9]{1,16}$/.test(text)) return undefined;
  const id = Number(text);
  return Number.isSafeInteger(id) && id > 0 ? String(id) : undefined;
}
