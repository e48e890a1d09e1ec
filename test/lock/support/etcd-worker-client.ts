/** Builds an etcd lock client inside a conformance worker process. */
import { EtcdLockBackend } from "../../../src/lock/etcd/index.js";
import { LockClient } from "../../../src/lock/index.js";

export async function createWorkerClient(config: unknown): Promise<LockClient<bigint>> {
  const { endpoint } = config as { endpoint: string };
  return new LockClient(new EtcdLockBackend({ etcd: endpoint }));
}
