import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { GrpcContext } from "./context.js";

/** etcd's Lease service. */
export function leaseService(_ctx: GrpcContext): UntypedServiceImplementation {
  return {};
}
