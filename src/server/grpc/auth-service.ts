import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { GrpcContext } from "./context.js";

/** etcd's Auth service. */
export function authService(_ctx: GrpcContext): UntypedServiceImplementation {
  return {};
}
