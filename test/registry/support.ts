/** Shared pieces of the registry tests: a watch that records what it saw, and clients. */
import { ConclaveClient, seededRandom } from "../../src/client/index.js";
import type { Registry, ServiceSnapshot } from "../../src/registry/index.js";
import { waitFor } from "../support/wait-for.js";

/** Runs `registry.watch(service)` in the background, keeping every snapshot. */
export function recordWatch(
  registry: Registry,
  service: string,
  options: { includeUnhealthy?: boolean } = {},
) {
  const stop = new AbortController();
  const seen: ServiceSnapshot[] = [];
  let failure: unknown;
  const done = (async () => {
    for await (const snapshot of registry.watch(service, { ...options, signal: stop.signal })) {
      seen.push(snapshot);
    }
  })().catch((error: unknown) => {
    failure = error;
  });
  const ids = (s: ServiceSnapshot | undefined) => (s?.instances ?? []).map((i) => i.id).join(",");
  return {
    seen,
    /** Id lists of every snapshot seen, in order. */
    history: () => seen.map((s) => ids(s)),
    /** Waits until the latest snapshot holds exactly `expected` (ids joined by ","). */
    async until(expected: string, timeoutMs = 10_000): Promise<ServiceSnapshot> {
      return waitFor(
        () => {
          if (failure !== undefined) throw failure;
          const last = seen.at(-1);
          return last !== undefined && ids(last) === expected && last;
        },
        `watch of ${service} to show [${expected}], saw ${JSON.stringify(seen.map((s) => ids(s)))}`,
        timeoutMs,
      );
    },
    async stop(): Promise<void> {
      stop.abort();
      await done;
      if (failure !== undefined) throw failure;
    },
  };
}

export function clientOf(endpoints: readonly string[], seed = 1): ConclaveClient {
  return new ConclaveClient({ endpoints, random: seededRandom(seed), timeoutMs: 3000 });
}
