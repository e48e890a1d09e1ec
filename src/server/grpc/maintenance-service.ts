import {
  status as GrpcCode,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { ETCD_API_VERSION } from "../maintenance-routes.js";
import type { JsonObject } from "./bridge.js";
import type { GrpcContext } from "./context.js";
import { serveSnapshot } from "./snapshot-stream.js";
import { unaryHandlers } from "./unary.js";

/** The HTTP status answer as etcd's StatusResponse (Conclave's own fields are dropped). */
function statusResponse(answer: JsonObject): JsonObject {
  return {
    header: answer["header"],
    version: ETCD_API_VERSION,
    dbSize: answer["dbSize"],
    leader: answer["leader"],
    raftIndex: answer["raftIndex"],
    raftTerm: answer["raftTerm"],
    raftAppliedIndex: answer["raftAppliedIndex"],
    errors: answer["errors"],
    dbSizeInUse: answer["dbSizeInUse"],
    isLearner: answer["isLearner"],
  };
}

/**
 * etcd's Maintenance service: the unary calls are the HTTP maintenance
 * routes; Snapshot streams this member's store (snapshot-stream.ts).
 * Downgrade changes etcd's cluster version, which Conclave does not have.
 */
export function maintenanceService(ctx: GrpcContext): UntypedServiceImplementation {
  return {
    ...unaryHandlers(ctx.bridge, {
      Alarm: { path: "/v3/maintenance/alarm" },
      Status: { path: "/v3/maintenance/status", response: statusResponse },
      Defragment: { path: "/v3/maintenance/defragment" },
      Hash: { path: "/v3/maintenance/hash" },
      HashKV: { path: "/v3/maintenance/hashkv" },
      MoveLeader: { path: "/v3/maintenance/transfer-leadership" },
    }),
    Snapshot: (call: ServerWritableStream<JsonObject, JsonObject>) => {
      void serveSnapshot(ctx, call);
    },
    Downgrade: (_call: ServerUnaryCall<JsonObject, JsonObject>, cb: sendUnaryData<JsonObject>) =>
      cb({
        code: GrpcCode.UNIMPLEMENTED,
        details: "etcdserver: downgrade is not supported: Conclave has no cluster version",
      }),
  };
}
