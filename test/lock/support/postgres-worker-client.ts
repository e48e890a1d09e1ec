/** Builds a PostgreSQL lock client inside a conformance worker process. */
import { LockClient } from "../../../src/lock/index.js";
import { PostgresAdvisoryLockBackend } from "../../../src/lock/postgres/advisory.js";
import { PostgresLockBackend } from "../../../src/lock/postgres/index.js";
import { testPoolConfig } from "./postgres.js";

export interface PostgresWorkerConfig {
  readonly url: string;
  readonly advisory: boolean;
}

export async function createWorkerClient(config: unknown): Promise<LockClient<bigint>> {
  const { url, advisory } = config as PostgresWorkerConfig;
  const connection = testPoolConfig(url);
  return new LockClient(
    advisory
      ? new PostgresAdvisoryLockBackend({ connection })
      : new PostgresLockBackend({ connection }),
  );
}
