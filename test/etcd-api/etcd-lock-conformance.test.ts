/**
 * The lock conformance suite of the etcd backend (npm etcd3 underneath),
 * run against Conclave's etcd gRPC API instead of etcd: the backend's
 * leases, keep-alives, txns and watches are served by a three-member
 * Conclave cluster.
 */
import { fileURLToPath } from "node:url";
import { ETCD_GUARANTEES, EtcdLockBackend } from "../../src/lock/etcd/index.js";
import { runLockConformance } from "../lock/conformance.js";
import { sharedServerTarget } from "../lock/support/server-target.js";
import { startGrpcCluster } from "./grpc-cluster.js";

const workerModule = fileURLToPath(
  new URL("../lock/support/etcd-worker-client.ts", import.meta.url),
);

runLockConformance(
  "etcd backend on Conclave's gRPC API",
  ETCD_GUARANTEES,
  { inProcess: false },
  async () => {
    const cluster = await startGrpcCluster();
    const leader = await cluster.leader();
    // Every client talks to the leader's gRPC port: the partitionable ones through a proxy to it.
    const endpoint = cluster.grpcAddressOf(leader.id);
    const port = Number(endpoint.slice(endpoint.lastIndexOf(":") + 1));
    const target = sharedServerTarget({
      label: "etcd-on-conclave",
      serverPort: port,
      worker: { module: workerModule, config: { endpoint } },
      backend: () => new EtcdLockBackend({ etcd: endpoint }),
      proxiedBackend: (proxyPort) =>
        new EtcdLockBackend({ etcd: `127.0.0.1:${proxyPort}`, operationTimeoutMs: 200 }),
    });
    return {
      ...target,
      async close() {
        await target.close();
        await cluster.stop();
      },
    };
  },
);
