import type { ConclaveClient } from "../../../src/client/index.js";
import type { ServeCluster } from "../../server/process/serve-cluster.js";

/**
 * Writers putting unique keys through the SDK until stopped (bounded in
 * count and time). Each put keeps one idempotency key across its retries, so
 * it is applied at most once; every acknowledged one must survive whatever
 * the test does.
 */
export function startLoad(
  cluster: ServeCluster,
  opts: { writers?: number; maxOps?: number; maxMs?: number; prefix?: string } = {},
): { acked: Map<string, string>; stop: () => Promise<Map<string, string>> } {
  const acked = new Map<string, string>();
  const maxOps = opts.maxOps ?? 5000;
  const until = Date.now() + (opts.maxMs ?? 60_000);
  const prefix = opts.prefix ?? "load";
  let stopped = false;
  let issued = 0;
  const writer = async (client: ConclaveClient, w: number): Promise<void> => {
    while (!stopped && issued < maxOps && Date.now() < until) {
      const key = `${prefix}-${w}-${issued++}`;
      const value = `v${issued}`;
      try {
        await client.put(key, value, { timeoutMs: 3000 });
        acked.set(key, value);
      } catch {
        // Unacknowledged: it may or may not be there, and either is fine.
      }
    }
  };
  const clients = Array.from({ length: opts.writers ?? 4 }, () => cluster.client());
  const running = Promise.all(clients.map((c, w) => writer(c, w)));
  return {
    acked,
    stop: async () => {
      stopped = true;
      await running;
      await Promise.all(clients.map((c) => c.close()));
      return acked;
    },
  };
}

/** Reads every acknowledged key back linearizably at member `via`, returning the ones missing or wrong. */
export async function missingWrites(
  cluster: ServeCluster,
  via: number,
  acked: ReadonlyMap<string, string>,
): Promise<string[]> {
  const client = cluster.client([via], { timeoutMs: 20_000 });
  try {
    const missing: string[] = [];
    for (const [key, value] of acked) {
      const kv = await client.get(key);
      if (kv?.valueString !== value) missing.push(`${key}: ${kv?.valueString ?? "(absent)"}`);
    }
    return missing;
  } finally {
    await client.close();
  }
}
