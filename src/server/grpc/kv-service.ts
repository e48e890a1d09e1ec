import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { GrpcContext } from "./context.js";
import { unaryHandlers } from "./unary.js";

/** etcd's KV service: each RPC is the HTTP route of the same name. */
export function kvService(ctx: GrpcContext): UntypedServiceImplementation {
  return unaryHandlers(ctx.bridge, {
    Range: { path: "/v3/kv/range" },
    Put: { path: "/v3/kv/put" },
    DeleteRange: { path: "/v3/kv/deleterange" },
    Txn: { path: "/v3/kv/txn" },
    Compact: { path: "/v3/kv/compaction" },
  });
}
