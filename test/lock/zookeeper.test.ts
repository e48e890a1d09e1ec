import { fileURLToPath } from "node:url";
import { LockClient } from "../../src/lock/index.js";
import { ZOOKEEPER_GUARANTEES, ZooKeeperLockBackend } from "../../src/lock/zookeeper/index.js";
import { runLockConformance } from "./conformance.js";
import { TcpProxy } from "./support/tcp-proxy.js";
import { requireSharedZooKeeper, SHARED_ZOOKEEPER } from "./support/zookeeper-server.js";

const workerModule = fileURLToPath(
  new URL("./support/zookeeper-worker-client.ts", import.meta.url),
);

runLockConformance("zookeeper", ZOOKEEPER_GUARANTEES, { inProcess: false }, async () => {
  await requireSharedZooKeeper();
  const proxies: TcpProxy[] = [];
  return {
    label: "zookeeper",
    ttlMs: 1000,
    async createClient(options) {
      return new LockClient(new ZooKeeperLockBackend({ connectString: SHARED_ZOOKEEPER }), options);
    },
    worker: { module: workerModule, config: { connectString: SHARED_ZOOKEEPER } },
    async createPartitionableClient(options) {
      const proxy = await TcpProxy.start(2181);
      proxies.push(proxy);
      const backend = new ZooKeeperLockBackend({
        connectString: `127.0.0.1:${proxy.port}`,
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
