import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { FastifyInstance } from "fastify";
import { authService } from "./auth-service.js";
import { RouteBridge } from "./bridge.js";
import { clusterService } from "./cluster-service.js";
import type { GrpcContext } from "./context.js";
import { electionService } from "./election-service.js";
import { kvService } from "./kv-service.js";
import { leaseService } from "./lease-service.js";
import { lockService } from "./lock-service.js";
import { maintenanceService } from "./maintenance-service.js";
import { messageLimitBytes } from "./message-limit.js";
import { etcdServices } from "./protos.js";
import { watchService } from "./watch-service.js";

export interface GrpcListenOptions {
  readonly host: string;
  readonly port: number;
  /** The client API's certificate; with `ca`, clients must present a certificate it signed. */
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca?: string };
  /** Open calls get this long to end on close before they are cut. */
  readonly closeGraceMs?: number;
}

/**
 * etcd's v3 gRPC API over a member's client API (`app`, made by
 * createServer): KV, Watch, Lease, Cluster, Maintenance, Auth, and etcd's
 * lock and election services. Served on its own port (`--listen-grpc`),
 * with the client API's TLS settings and auth.
 */
export class GrpcApi {
  private constructor(
    private readonly server: Server,
    /** The port bound (the one asked for, or the one chosen for port 0). */
    readonly port: number,
    private readonly closeGraceMs: number,
    private readonly closing: AbortController,
  ) {}

  static async listen(app: FastifyInstance, options: GrpcListenOptions): Promise<GrpcApi> {
    const limit = messageLimitBytes(app);
    const server = new Server({
      "grpc.max_receive_message_length": limit,
      "grpc.max_send_message_length": limit,
      // Idle clients are pinged, dead ones dropped: a watch must not outlive its client.
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 1,
    });
    const closing = new AbortController();
    const ctx: GrpcContext = {
      app,
      bridge: new RouteBridge(app),
      kv: app.kvAccess,
      limits: app.serverLimits,
      log: app.log.child({ component: "grpc" }),
      closing: closing.signal,
    };
    const services = etcdServices();
    server.addService(services.KV, kvService(ctx));
    server.addService(services.Watch, watchService(ctx));
    server.addService(services.Lease, leaseService(ctx));
    server.addService(services.Cluster, clusterService(ctx));
    server.addService(services.Maintenance, maintenanceService(ctx));
    server.addService(services.Auth, authService(ctx));
    server.addService(services.Lock, lockService(ctx));
    server.addService(services.Election, electionService(ctx));
    const credentials =
      options.tls === undefined
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(
            options.tls.ca === undefined ? null : Buffer.from(options.tls.ca),
            [
              {
                cert_chain: Buffer.from(options.tls.cert),
                private_key: Buffer.from(options.tls.key),
              },
            ],
            options.tls.ca !== undefined,
          );
    const address = options.host.includes(":") ? `[${options.host}]` : options.host;
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${address}:${options.port}`, credentials, (err, bound) =>
        err === null ? resolve(bound) : reject(err),
      ),
    );
    return new GrpcApi(server, port, options.closeGraceMs ?? 2000, closing);
  }

  /** Stops accepting, lets open calls end for the grace period, then cuts the rest. */
  async close(): Promise<void> {
    const server = this.server;
    this.closing.abort();
    await new Promise<void>((resolve) => {
      const cut = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, this.closeGraceMs);
      server.tryShutdown(() => {
        clearTimeout(cut);
        resolve();
      });
    });
  }
}
