/**
 * Concurrent SDK clients doing put, linearizable get, compare-and-set and
 * delete over a few keys with values no one writes twice. Keys rotate to a
 * fresh set every `keyGenerationMs`, which keeps each key's history short
 * enough for the linearizability search without making it less strict.
 */
import { type ConclaveClient, seededRandom } from "../../src/client/index.js";
import type { KvCasOutput, KvDeleteOutput, KvGetOutput } from "../../src/sim/lincheck/index.js";
import type { HistoryRecorder } from "./history.js";

export interface WorkloadOptions {
  readonly clients: readonly ConclaveClient[];
  readonly history: HistoryRecorder;
  readonly seed: number;
  /** Keys in use at once. */
  readonly keys: number;
  readonly keyGenerationMs: number;
  /** Hard bounds: the workload ends at whichever comes first (or at stop). */
  readonly maxOpsPerClient: number;
  readonly maxMs: number;
}

export interface RunningWorkload {
  /** Stops issuing; resolves once every operation in flight has returned. */
  stop(): Promise<void>;
}

type Pick = (n: number) => number;

function keyName(generation: number, slot: number): string {
  return `nemesis/g${generation}/k${slot}`;
}

async function oneOperation(
  client: ConclaveClient,
  clientId: number,
  history: HistoryRecorder,
  key: string,
  value: string,
  pick: Pick,
  lastSeen: Map<string, string | null>,
): Promise<void> {
  const roll = pick(100);
  if (roll < 35) {
    // A linearizable read (the SDK's default).
    const out = await history.record<KvGetOutput>(clientId, { op: "get", key }, async () => {
      const kv = await client.get(key);
      return { value: kv === undefined ? null : kv.valueString };
    });
    if (out !== undefined) lastSeen.set(key, out.value);
  } else if (roll < 65) {
    await history.record(clientId, { op: "put", key, value }, async () => {
      await client.put(key, value);
      return {};
    });
  } else if (roll < 78) {
    // Compare-and-set on the value this client last saw (absent: version 0).
    const expected = lastSeen.get(key) ?? null;
    await history.record<KvCasOutput>(clientId, { op: "cas", key, expected, value }, async () => {
      const r = await client.txn({
        compare: [
          expected === null
            ? { key, target: "version", value: 0 }
            : { key, target: "value", value: expected },
        ],
        success: [{ type: "put", key, value }],
      });
      return { ok: r.succeeded };
    });
  } else if (roll < 92) {
    // Compare-and-set on mod_revision: read, then swap only if nothing wrote since.
    // Values are never written twice, so "same mod_revision" is "same value".
    const read = await history.record<KvGetOutput & { mod: number }>(
      clientId,
      { op: "get", key },
      async () => {
        const kv = await client.get(key);
        return kv === undefined
          ? { value: null, mod: 0 }
          : { value: kv.valueString, mod: kv.modRevision };
      },
    );
    if (read === undefined) return;
    await history.record<KvCasOutput>(
      clientId,
      { op: "cas", key, expected: read.value, value },
      async () => {
        const r = await client.txn({
          compare: [{ key, target: "mod", value: read.mod }],
          success: [{ type: "put", key, value }],
        });
        return { ok: r.succeeded };
      },
    );
  } else {
    await history.record<KvDeleteOutput>(clientId, { op: "delete", key }, async () => {
      const r = await client.delete(key);
      return { existed: r.deleted > 0 };
    });
  }
}

export function startWorkload(o: WorkloadOptions): RunningWorkload {
  let stopped = false;
  const until = performance.now() + o.maxMs;
  const runClient = async (client: ConclaveClient, clientId: number): Promise<void> => {
    const random = seededRandom(o.seed * 1000 + clientId);
    const pick: Pick = (n) => Math.floor(random() * n);
    const lastSeen = new Map<string, string | null>();
    for (let seq = 0; seq < o.maxOpsPerClient && !stopped && performance.now() < until; seq++) {
      const generation = Math.floor(o.history.now() / o.keyGenerationMs);
      const key = keyName(generation, pick(o.keys));
      await oneOperation(client, clientId, o.history, key, `c${clientId}-${seq}`, pick, lastSeen);
    }
  };
  const running = Promise.all(o.clients.map((c, i) => runClient(c, i + 1)));
  return {
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}
