import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import type { GrpcContext } from "./context.js";

/** etcd's Election service. */
export function electionService(_ctx: GrpcContext): UntypedServiceImplementation {
  return {};
}
