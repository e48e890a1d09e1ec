/** watchValue against a three-member cluster: first value, every change, reconnects, compaction. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ClientError,
  ConclaveClient,
  seededRandom,
  type ValueChange,
  watchValue,
} from "../../src/client/index.js";
import {
  type ConclaveTestCluster,
  startConclaveCluster,
} from "../lock/support/conclave-cluster.js";
import { TcpProxy } from "../support/tcp-proxy.js";

let cluster: ConclaveTestCluster;
let writer: ConclaveClient;
const clients: ConclaveClient[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  cluster = await startConclaveCluster();
  writer = new ConclaveClient({ endpoints: cluster.endpoints });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await writer?.close();
  await Promise.all(proxies.map((p) => p.close()));
  await cluster?.stop();
});

function client(endpoints = cluster.endpoints): ConclaveClient {
  const c = new ConclaveClient({ endpoints, random: seededRandom(7) });
  clients.push(c);
  return c;
}

const json = (bytes: Uint8Array): unknown => JSON.parse(Buffer.from(bytes).toString("utf8"));

/** The next `n` changes, failing after a bounded wait. */
async function take<T>(
  it: AsyncIterator<ValueChange<T>>,
  n: number,
  timeoutMs = 10_000,
): Promise<ValueChange<T>[]> {
  const out: ValueChange<T>[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`only ${out.length} of ${n} changes arrived`)),
        Math.max(1, deadline - Date.now()),
      );
    });
    const next = await Promise.race([it.next(), timeout]).finally(() => clearTimeout(timer));
    if (next.done) throw new Error(`the iteration ended after ${out.length} of ${n} changes`);
    out.push(next.value);
  }
  return out;
}

describe("watchValue", () => {
  it("yields the current state first, then every change; invalid values are reported", async () => {
    const key = "wv/report";
    const it = watchValue(client(), key, { parse: json })[Symbol.asyncIterator]();
    const [first] = await take(it, 1);
    expect(first).toMatchObject({ value: undefined, kv: undefined });
    const r1 = await writer.put(key, JSON.stringify({ n: 1 }));
    const r2 = await writer.put(key, "{not json");
    const r3 = await writer.put(key, JSON.stringify({ n: 3 }));
    const r4 = await writer.delete(key);
    const changes = await take(it, 4);
    expect(changes.map((c) => c.revision)).toEqual([
      r1.revision,
      r2.revision,
      r3.revision,
      r4.revision,
    ]);
    expect(changes[0]!.value).toEqual({ n: 1 });
    expect(changes[1]!.value).toBeUndefined();
    expect(changes[1]!.error).toBeInstanceOf(SyntaxError);
    expect(changes[1]!.kv?.valueString).toBe("{not json");
    expect(changes[2]!.value).toEqual({ n: 3 });
    expect(changes[3]).toMatchObject({ value: undefined, kv: undefined });
    expect(changes[3]!.error).toBeUndefined();
    await it.return?.();
  });

  it("skips invalid values with onInvalid: skip, and starts from an existing value", async () => {
    const key = "wv/skip";
    const start = await writer.put(key, "1");
    const controller = new AbortController();
    const it = watchValue(client(), key, {
      parse: (b) => {
        const n = Number(Buffer.from(b).toString("utf8"));
        if (!Number.isInteger(n)) throw new Error("not an integer");
        return n;
      },
      onInvalid: "skip",
      signal: controller.signal,
    })[Symbol.asyncIterator]();
    const [first] = await take(it, 1);
    expect(first!.value).toBe(1);
    expect(first!.kv?.modRevision).toBe(start.revision);
    expect(first!.revision).toBeGreaterThanOrEqual(start.revision);
    await writer.put(key, "x");
    const r = await writer.put(key, "2");
    const [second] = await take(it, 1);
    expect(second).toMatchObject({ value: 2, revision: r.revision });
    controller.abort();
    expect((await it.next()).done).toBe(true);
  });

  it("misses no change across dropped connections", async () => {
    const key = "wv/reconnect";
    const own = await Promise.all(cluster.members.map((m) => TcpProxy.start(m.port)));
    proxies.push(...own);
    const it = watchValue(client(own.map((p) => `http://127.0.0.1:${p.port}`)), key)[
      Symbol.asyncIterator
    ]();
    await take(it, 1);
    const written: number[] = [];
    written.push((await writer.put(key, "a")).revision);
    await take(it, 1);
    for (const p of own) p.cut({ reset: true });
    for (const v of ["b", "c", "d"]) written.push((await writer.put(key, v)).revision);
    for (const p of own) p.heal();
    written.push((await writer.put(key, "e")).revision);
    const changes = await take(it, 4);
    expect(changes.map((c) => Buffer.from(c.value!).toString())).toEqual(["b", "c", "d", "e"]);
    expect(changes.map((c) => c.revision)).toEqual(written.slice(1));
    await it.return?.();
  });

  it("reads the key again when the history to resume from was compacted", async () => {
    const key = "wv/compacted";
    const own = await Promise.all(cluster.members.map((m) => TcpProxy.start(m.port)));
    proxies.push(...own);
    const it = watchValue(client(own.map((p) => `http://127.0.0.1:${p.port}`)), key)[
      Symbol.asyncIterator
    ]();
    await take(it, 1);
    await writer.put(key, "before");
    await take(it, 1);
    for (const p of own) p.cut({ reset: true });
    await writer.put(key, "gone-1");
    await writer.put(key, "gone-2");
    const last = await writer.put(key, "now");
    await writer.compact(last.revision);
    // A follower applies the compaction once it hears the commit index, up
    // to a heartbeat later; until then it still holds the history and would
    // resume the watch from it. A linearizable read through each member
    // waits until that member has applied the compaction.
    for (const endpoint of cluster.endpoints) await client([endpoint]).range({ key });
    for (const p of own) p.heal();
    const [after] = await take(it, 1);
    expect(Buffer.from(after!.value!).toString()).toBe("now");
    expect(after!.kv?.modRevision).toBe(last.revision);
    const next = await writer.put(key, "later");
    const [later] = await take(it, 1);
    expect(later).toMatchObject({ revision: next.revision });
    await it.return?.();
  });

  it("rejects bad options at the call", () => {
    const c = client();
    expect(() => watchValue(c, "k", { onInvalid: "drop" as never })).toThrow(ClientError);
    expect(() => watchValue(c, "k", { parse: 3 as never })).toThrow(ClientError);
  });
});
