import { fileURLToPath } from "node:url";
import { ETCD_GUARANTEES, EtcdLockBackend } from "../../src/lock/etcd/index.js";
import { LockClient } from "../../src/lock/index.js";
import { runLockConformance } from "./conformance.js";
import { requireSharedEtcd, SHARED_ETCD } from "./support/etcd-server.js";
import { TcpProxy } from "./support/tcp-proxy.js";

const workerModule = fileURLToPath(new URL("./support/etcd-worker-client.ts", import.meta.url));

runLockConformance("etcd", ETCD_GUARANTEES, { inProcess: false }, async () => {
  await requireSharedEtcd();
  const proxies: TcpProxy[] = [];
  return {
    label: "etcd",
    ttlMs: 1000,
    async createClient(options) {
      return new LockClient(new EtcdLockBackend({ etcd: SHARED_ETCD }), options);
    },
    worker: { module: workerModule, config: { endpoint: SHARED_ETCD } },
    async createPartitionableClient(options) {
      const proxy = await TcpProxy.start(2379);
      proxies.push(proxy);
      const backend = new EtcdLockBackend({
        etcd: `127.0.0.1:${proxy.port}`,
        operationTimeoutMs: 200,
      });
      return {
        client: new LockClient(backend, options),
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
});
