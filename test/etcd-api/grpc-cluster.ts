/**
 * Three in-process members, each with its HTTP API and etcd's gRPC API on
 * free 127.0.0.1 ports, and the clients the etcd-API tests drive them with:
 * Debian's `etcdctl` (3.4) and npm `etcd3`.
 */
import { execFile } from "node:child_process";
import { Etcd3, type IOptions } from "etcd3";
import { GrpcApi } from "../../src/server/grpc/grpc-server.js";
import type { ServerOptions } from "../../src/server/index.js";
import { type HttpCluster, startHttpCluster } from "../server/http-cluster.js";
import { freePort } from "../support/free-port.js";

export const ETCDCTL = "/usr/bin/etcdctl";

export interface EtcdctlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface GrpcCluster extends HttpCluster {
  /** gRPC address (host:port) per member, in member order. */
  readonly grpcAddresses: string[];
  grpcAddressOf(id: number): string;
  /** Runs etcdctl against `endpoints` (default: every member) and resolves with what it printed. */
  etcdctl(args: readonly string[], options?: EtcdctlOptions): Promise<EtcdctlResult>;
  /** An npm etcd3 client (closed by stop()). */
  etcd3(options?: Partial<IOptions>): Etcd3;
}

export interface EtcdctlOptions {
  readonly endpoints?: readonly string[];
  /** Written to etcdctl's stdin (txn's interactive input). */
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** etcdctl's `-w json`, whose numbers can exceed 2^53 (cluster_id, member ids): long ones read as text. */
export function parseExact<T = Record<string, unknown>>(json: string): T {
  return JSON.parse(json.replace(/:(\d{16,})/g, ':"$1"')) as T;
}

/** etcdctl against any endpoint list; never throws for a non-zero exit. */
export function runEtcdctl(
  endpoints: readonly string[],
  args: readonly string[],
  options: Omit<EtcdctlOptions, "endpoints"> = {},
): Promise<EtcdctlResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      ETCDCTL,
      [`--endpoints=${endpoints.join(",")}`, "--dial-timeout=5s", "--command-timeout=10s", ...args],
      {
        env: { ...process.env, ETCDCTL_API: "3" },
        timeout: options.timeoutMs ?? 20_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err !== null && typeof (err as { code?: unknown }).code !== "number") {
          reject(err);
          return;
        }
        const code = err === null ? 0 : ((err as { code: number }).code ?? 1);
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(options.input ?? "");
  });
}

export async function startGrpcCluster(
  serverOptions: Omit<ServerOptions, "node" | "store" | "clientUrls"> = {},
): Promise<GrpcCluster> {
  const http = await startHttpCluster({
    clusterId: "etcd-api-test",
    ...serverOptions,
    // The cheapest bcrypt cost: these tests check who may do what, not the hash's strength.
    auth: { bcryptCost: 4, ...serverOptions.auth },
  });
  // An election now rather than after the election timeout. The last member
  // campaigns, so clients that pick the first endpoint go through a follower,
  // as they do against most etcd clusters; tests find the leader with leader().
  http.members.at(-1)!.node.campaign();
  const apis: GrpcApi[] = [];
  for (const member of http.members) {
    apis.push(await GrpcApi.listen(member.app, { host: "127.0.0.1", port: await freePort() }));
  }
  const grpcAddresses = apis.map((api) => `127.0.0.1:${api.port}`);
  const clients: Etcd3[] = [];
  return {
    ...http,
    grpcAddresses,
    grpcAddressOf: (id) => grpcAddresses[id - 1]!,
    etcdctl: (args, options = {}) => runEtcdctl(options.endpoints ?? grpcAddresses, args, options),
    etcd3(options = {}) {
      const client = new Etcd3({ hosts: grpcAddresses.map((a) => `http://${a}`), ...options });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const c of clients) c.close();
      await Promise.all(apis.map((api) => api.close()));
      await http.stop();
    },
  };
}
