/** Builds a ZooKeeper lock client inside a conformance worker process. */
import { LockClient } from "../../../src/lock/index.js";
import { ZooKeeperLockBackend } from "../../../src/lock/zookeeper/index.js";

export async function createWorkerClient(config: unknown): Promise<LockClient<bigint>> {
  const { connectString } = config as { connectString: string };
  return new LockClient(new ZooKeeperLockBackend({ connectString }));
}
