import { type LockBackend, LockClient, type TokenType } from "../../../src/lock/index.js";
import { TcpProxy } from "../../support/tcp-proxy.js";
import type { ConformanceTarget, WorkerSpec } from "../conformance.js";

/** A backend on one shared server the machine already runs (etcd, ZooKeeper, Redis, PostgreSQL). */
export interface SharedServerTargetSpec<TToken extends TokenType> {
  readonly label: string;
  /** The shared server's port on 127.0.0.1; partitionable clients reach it through a proxy. */
  readonly serverPort: number;
  readonly worker: WorkerSpec;
  /** A backend with its own connections to the shared server. */
  backend(): LockBackend<TToken>;
  /** A backend reaching the server through the proxy listening on `proxyPort`, with short timeouts. */
  proxiedBackend(proxyPort: number): LockBackend<TToken>;
}

/**
 * The conformance target of a backend on one shared server: partitionable
 * clients each get their own TCP proxy to it, cut and healed on demand, and
 * closed with the target.
 */
export function sharedServerTarget<TToken extends TokenType>(
  spec: SharedServerTargetSpec<TToken>,
): ConformanceTarget<TToken> {
  const proxies: TcpProxy[] = [];
  return {
    label: spec.label,
    ttlMs: 1000,
    async createClient(options) {
      return new LockClient(spec.backend(), options);
    },
    worker: spec.worker,
    async createPartitionableClient(options) {
      const proxy = await TcpProxy.start(spec.serverPort);
      proxies.push(proxy);
      return {
        client: new LockClient(spec.proxiedBackend(proxy.port), options),
        async cut() {
          proxy.cut();
        },
        async heal() {
          proxy.heal();
        },
      };
    },
    async close() {
      await Promise.all(proxies.map((p) => p.close()));
    },
  };
}
