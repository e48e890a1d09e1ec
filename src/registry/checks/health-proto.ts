import { fileURLToPath } from "node:url";
import { type GrpcObject, loadPackageDefinition, type ServiceDefinition } from "@grpc/grpc-js";
import { loadSync, type Options } from "@grpc/proto-loader";

/**
 * `proto/grpc/health/v1/` at the package root: three levels above this file
 * both in `src/registry/checks/` and in `dist/registry/checks/`.
 */
const PROTO_DIR = fileURLToPath(new URL("../../../proto/grpc/health/v1/", import.meta.url));

const LOADER_OPTIONS: Options = {
  keepCase: true,
  enums: String,
  // An unset status (UNKNOWN, 0) decodes as "UNKNOWN" rather than absent.
  defaults: true,
  oneofs: false,
  includeDirs: [PROTO_DIR],
};

/** The serving states of `grpc.health.v1.HealthCheckResponse`, by name. */
export type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

export interface HealthCheckRequest {
  readonly service: string;
}

export interface HealthCheckResponse {
  readonly status: ServingStatus;
}

let loaded: ServiceDefinition | undefined;

/** `grpc.health.v1.Health`, loaded once: for a client, or for a server that implements it. */
export function healthService(): ServiceDefinition {
  if (loaded !== undefined) return loaded;
  const root = loadPackageDefinition(loadSync("health.proto", LOADER_OPTIONS));
  const v1 = ((root["grpc"] as GrpcObject | undefined)?.["health"] as GrpcObject | undefined)?.[
    "v1"
  ] as GrpcObject | undefined;
  const ctor = v1?.["Health"] as { service?: ServiceDefinition } | undefined;
  if (ctor?.service === undefined)
    throw new Error("proto service grpc.health.v1.Health is missing");
  loaded = ctor.service;
  return loaded;
}
