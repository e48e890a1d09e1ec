import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { GrpcContext } from "./context.js";

/** etcd's Cluster service. */
export function clusterService(_ctx: GrpcContext): UntypedServiceImplementation {
  return {};
}
