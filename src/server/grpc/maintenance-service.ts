import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { GrpcContext } from "./context.js";

/** etcd's Maintenance service. */
export function maintenanceService(_ctx: GrpcContext): UntypedServiceImplementation {
  return {};
}
