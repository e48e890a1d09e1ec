import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { GrpcContext } from "./context.js";

/** etcd's Watch service. */
export function watchService(_ctx: GrpcContext): UntypedServiceImplementation {
  return {};
}
