/** Builds a Redis lock client inside a conformance worker process. */
import { LockClient } from "../../../src/lock/index.js";
import { RedisLockBackend } from "../../../src/lock/redis/index.js";

export interface RedisWorkerConfig {
  readonly url: string;
  readonly fair: boolean;
}

export async function createWorkerClient(config: unknown): Promise<LockClient<bigint>> {
  const { url, fair } = config as RedisWorkerConfig;
  return new LockClient(new RedisLockBackend({ redis: url, fair }));
}
