import { status as GrpcCode, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { prefixEnd } from "../../kv/index.js";
import { encodeBase64 } from "../base64.js";
import { GrpcCallError, type JsonObject } from "./bridge.js";
import { authorizeCall } from "./call-auth.js";
import type { GrpcContext } from "./context.js";
import { KeyQueue, messageBytes, queueKey, queuePrefix } from "./key-queue.js";
import { invalidArgument, leaseOf, type RecipeCall, recipeHandler } from "./recipe-call.js";

/** The lease behind a lock key was revoked or expired while its holder waited. */
export class LockSessionExpiredError extends GrpcCallError {
  constructor() {
    super({ code: GrpcCode.UNKNOWN, details: "mutex: session is expired" }, "LOCK_SESSION_EXPIRED");
  }
}

/**
 * etcd's v3lock service (the recipe of its Mutex, run by the server): Lock
 * puts `<name>/<lease in hex>` under the lease and answers once that key
 * has the lowest create revision under `<name>/`; Unlock deletes the key.
 * The caller needs write access to the name's prefix (and the routes the
 * writes go through check the keys they touch, as for any client).
 */
export function lockService(ctx: GrpcContext): UntypedServiceImplementation {
  const queue = new KeyQueue(ctx);

  const lock = async (call: RecipeCall): Promise<JsonObject> => {
    const message = call.request ?? {};
    // An empty name is etcd's too: its keys are "/<lease>".
    const name = messageBytes(message, "name");
    const prefix = queuePrefix(name);
    await authorizeCall(ctx.kv, call.metadata, [
      { mode: "write", key: prefix, rangeEnd: prefixEnd(prefix) },
    ]);
    const lease = await queue.lease(leaseOf(message, "lease"), call);
    const queued = await queue.join(queueKey(prefix, lease), new Uint8Array(0), lease, call);
    const header = await queue.waitForTurnOrLeave(
      prefix,
      queued,
      call,
      () => new LockSessionExpiredError(),
    );
    return { header, key: encodeBase64(queued.key) };
  };

  const unlock = async (call: RecipeCall): Promise<JsonObject> => {
    const key = messageBytes(call.request ?? {}, "key");
    if (key.byteLength === 0) throw invalidArgument("etcdserver: key is not provided");
    return { header: await queue.leave(key, call) };
  };

  return { Lock: recipeHandler(lock), Unlock: recipeHandler(unlock) };
}
