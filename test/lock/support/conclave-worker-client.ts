/** Builds a conclave lock client inside a conformance worker process. */
import { ConclaveLockBackend } from "../../../src/lock/conclave/index.js";
import { LockClient } from "../../../src/lock/index.js";

export async function createWorkerClient(config: unknown): Promise<LockClient<bigint>> {
  const { endpoints } = config as { endpoints: string[] };
  return new LockClient(new ConclaveLockBackend({ endpoints }));
}
