import {
  LockClient,
  MEMORY_GUARANTEES,
  MemoryLockBackend,
  MemoryLockStore,
} from "../../src/lock/index.js";
import { runLockConformance } from "./conformance.js";

runLockConformance("memory", MEMORY_GUARANTEES, { inProcess: true }, async () => {
  const store = new MemoryLockStore();
  return {
    label: "memory",
    ttlMs: 400,
    async createClient(options) {
      return new LockClient(new MemoryLockBackend({ store }), options);
    },
    async createPartitionableClient(options) {
      const backend = new MemoryLockBackend({ store });
      return {
        client: new LockClient(backend, options),
        async cut() {
          backend.disconnect();
        },
        async heal() {
          backend.reconnect();
        },
      };
    },
    async close() {},
  };
});
