import type { ProcessCluster } from "./harness.js";

/**
 * Writers putting unique keys until stopped (bounded in count and time).
 * Records every acknowledged write: each must survive whatever the test does.
 */
export function startLoad(
  cluster: ProcessCluster,
  opts: { writers?: number; maxOps?: number; maxMs?: number; prefix?: string } = {},
): { acked: Map<string, string>; stop: () => Promise<Map<string, string>> } {
  const acked = new Map<string, string>();
  const maxOps = opts.maxOps ?? 5000;
  const until = Date.now() + (opts.maxMs ?? 60_000);
  let stopped = false;
  let issued = 0;
  const writer = async (w: number): Promise<void> => {
    while (!stopped && issued < maxOps && Date.now() < until) {
      const key = `${opts.prefix ?? "load"}-${w}-${issued++}`;
      const value = `v${issued}`;
      if (await cluster.put(key, value, 3000)) acked.set(key, value);
    }
  };
  const running = Promise.all(Array.from({ length: opts.writers ?? 4 }, (_, w) => writer(w)));
  return {
    acked,
    stop: async () => {
      stopped = true;
      await running;
      return acked;
    },
  };
}

/** Reads every acknowledged key back (linearizably) through `via`, returning the ones missing or wrong. */
export async function missingWrites(
  cluster: ProcessCluster,
  via: number,
  acked: ReadonlyMap<string, string>,
): Promise<string[]> {
  const missing: string[] = [];
  for (const [key, value] of acked) {
    const r = await cluster.get(via, key);
    if (r.status !== 200 || r.body.value !== value)
      missing.push(`${key}: ${JSON.stringify(r.body)}`);
  }
  return missing;
}
