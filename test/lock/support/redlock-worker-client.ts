/** Builds a Redlock client inside a conformance worker process. */
import { LockClient } from "../../../src/lock/index.js";
import { RedlockBackend } from "../../../src/lock/redlock/index.js";

export async function createWorkerClient(config: unknown): Promise<LockClient<undefined>> {
  const { urls } = config as { urls: string[] };
  return new LockClient(new RedlockBackend({ instances: urls }));
}
