import { fileURLToPath } from "node:url";
import { type GrpcObject, loadPackageDefinition, type ServiceDefinition } from "@grpc/grpc-js";
import { loadSync, type Options } from "@grpc/proto-loader";

/**
 * Where the package keeps etcd's proto files: `proto/etcd/` at its root,
 * three levels above this file both in `src/server/grpc/` and in
 * `dist/server/grpc/`.
 */
const PROTO_DIR = fileURLToPath(new URL("../../../proto/etcd/", import.meta.url));

/**
 * Messages decode to the shape of etcd's JSON gateway, which is the shape
 * the HTTP API already speaks: field names as in the proto (snake_case, and
 * etcd's own `ID`, `TTL`), bytes as base64, 64-bit integers as decimal
 * strings (exact beyond 2^53), enums by name, unset fields absent. One
 * decoder, one validation, one set of translators for both APIs.
 */
const LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  oneofs: false,
  includeDirs: [PROTO_DIR],
};

export interface EtcdServices {
  readonly KV: ServiceDefinition;
  readonly Watch: ServiceDefinition;
  readonly Lease: ServiceDefinition;
  readonly Cluster: ServiceDefinition;
  readonly Maintenance: ServiceDefinition;
  readonly Auth: ServiceDefinition;
  readonly Lock: ServiceDefinition;
  readonly Election: ServiceDefinition;
}

let loaded: EtcdServices | undefined;

function service(root: GrpcObject, pkg: string, name: string): ServiceDefinition {
  const ns = root[pkg] as GrpcObject | undefined;
  const ctor = ns?.[name] as { service?: ServiceDefinition } | undefined;
  if (ctor?.service === undefined) throw new Error(`proto service ${pkg}.${name} is missing`);
  return ctor.service;
}

/** etcd's services, loaded once from the package's proto files. */
export function etcdServices(): EtcdServices {
  if (loaded !== undefined) return loaded;
  const definition = loadSync(["rpc.proto", "v3lock.proto", "v3election.proto"], LOADER_OPTIONS);
  const root = loadPackageDefinition(definition);
  loaded = {
    KV: service(root, "etcdserverpb", "KV"),
    Watch: service(root, "etcdserverpb", "Watch"),
    Lease: service(root, "etcdserverpb", "Lease"),
    Cluster: service(root, "etcdserverpb", "Cluster"),
    Maintenance: service(root, "etcdserverpb", "Maintenance"),
    Auth: service(root, "etcdserverpb", "Auth"),
    Lock: service(root, "v3lockpb", "Lock"),
    Election: service(root, "v3electionpb", "Election"),
  };
  return loaded;
}
