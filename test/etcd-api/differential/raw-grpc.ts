/**
 * A raw gRPC client of etcd's v3 API, built from the package's proto files
 * with the decoding the server uses (proto names, int64 as decimal strings,
 * bytes as base64, enums by name) and, unlike a typed client, no defaults:
 * a field the server put on the wire is present, one it left out is absent,
 * so a differential test sees exactly what each server sent.
 */
import { fileURLToPath } from "node:url";
import {
  type ClientDuplexStream,
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const PROTO_DIR = fileURLToPath(new URL("../../../proto/etcd/", import.meta.url));

export type Message = Record<string, unknown>;

/** What a unary call answered: its message, or its status. */
export type CallOutcome =
  | { readonly ok: true; readonly message: Message }
  | { readonly ok: false; readonly code: number; readonly details: string };

type UnaryMethod = (
  request: Message,
  options: { deadline: number },
  callback: (err: ServiceError | null, response?: Message) => void,
) => void;

interface RawService {
  close(): void;
  [method: string]: unknown;
}

let constructors: Record<string, ServiceClientConstructor> | undefined;

function serviceConstructors(): Record<string, ServiceClientConstructor> {
  if (constructors !== undefined) return constructors;
  const definition = loadSync(["rpc.proto"], {
    keepCase: true,
    longs: String,
    enums: String,
    bytes: String,
    defaults: false,
    oneofs: false,
    includeDirs: [PROTO_DIR],
  });
  const pkg = loadPackageDefinition(definition)["etcdserverpb"] as GrpcObject;
  constructors = {};
  for (const name of ["KV", "Lease", "Watch"]) {
    constructors[name] = pkg[name] as ServiceClientConstructor;
  }
  return constructors;
}

/** One connection's clients of the KV, Lease and Watch services. */
export class RawEtcdClient {
  private readonly services = new Map<string, RawService>();

  constructor(readonly address: string) {
    for (const [name, Ctor] of Object.entries(serviceConstructors())) {
      this.services.set(name, new Ctor(address, credentials.createInsecure()) as RawService);
    }
  }

  /** Calls `service.method`; resolves with the answer or the status, never rejects. */
  unary(
    service: string,
    method: string,
    request: Message,
    timeoutMs = 10_000,
  ): Promise<CallOutcome> {
    const client = this.services.get(service);
    const fn = client?.[method] as UnaryMethod | undefined;
    if (client === undefined || fn === undefined) {
      throw new Error(`no method ${service}.${method}`);
    }
    return new Promise((resolve) => {
      fn.call(client, request, { deadline: Date.now() + timeoutMs }, (err, response) => {
        if (err !== null) resolve({ ok: false, code: err.code, details: err.details });
        else resolve({ ok: true, message: response ?? {} });
      });
    });
  }

  /** A Watch stream (bidirectional). */
  watch(): ClientDuplexStream<Message, Message> {
    const client = this.services.get("Watch")!;
    return (client["Watch"] as () => ClientDuplexStream<Message, Message>).call(client);
  }

  close(): void {
    for (const c of this.services.values()) c.close();
  }
}
