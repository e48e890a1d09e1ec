import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { GrpcContext } from "./context.js";

/** etcd's Lock service. */
export function lockService(_ctx: GrpcContext): UntypedServiceImplementation {
  return {};
}
