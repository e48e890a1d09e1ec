import { describe, expect, it } from "vitest";
import {
  type KvCommand,
  type KvResult,
  KvStore,
  type PutCommand,
  utf8,
} from "../../src/kv/index.js";

const put = (key: string, value: string): PutCommand => ({
  type: "put",
  key: utf8(key),
  value: utf8(value),
});
const request = (id: string, command: KvCommand): KvCommand =>
  ({ type: "request", id, command }) as KvCommand;

async function bytesOf(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

async function* replay(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

describe("request ids", () => {
  it("apply a retried write once and answer it with the first result", () => {
    const store = new KvStore();
    const first = store.apply(1, request("r1", put("a", "1")));
    const retry = store.apply(2, request("r1", put("a", "1")));
    expect(first).toMatchObject({ type: "put", revision: 2 });
    expect(retry).toEqual(first);
    expect(store.revision).toBe(2);
    expect(store.range({ key: utf8("a") }).kvs[0]?.version).toBe(1);
    // A different id is a different request.
    expect(store.apply(3, request("r2", put("a", "1")))).toMatchObject({ revision: 3 });
    expect(store.range({ key: utf8("a") }).kvs[0]?.version).toBe(2);
  });

  it("keep the first result of a txn with its range responses", () => {
    const store = new KvStore();
    store.apply(1, put("k", "v0"));
    const txn: KvCommand = {
      type: "txn",
      compare: [{ key: utf8("k"), target: "version", result: "equal", value: 1 }],
      success: [put("k", "v1"), { type: "range", key: utf8("k") }],
      failure: [{ type: "range", key: utf8("k") }],
    };
    const first = store.apply(2, request("t", txn));
    expect(first).toMatchObject({ type: "txn", succeeded: true });
    const retry = store.apply(3, request("t", txn)) as Extract<KvResult, { type: "txn" }>;
    // Applied again, the compare would now fail; the remembered answer says it succeeded.
    expect(retry.succeeded).toBe(true);
    expect(retry).toEqual(first);
    expect(store.range({ key: utf8("k") }).kvs[0]?.version).toBe(2);
  });

  it("do not remember refused requests, so a retry is judged afresh", () => {
    const store = new KvStore();
    const attach: KvCommand = { type: "put", key: utf8("a"), value: utf8("1"), lease: 7 };
    expect(store.apply(1, request("x", attach))).toMatchObject({ type: "error" });
    store.apply(2, { type: "leaseGrant", id: 7, ttlMs: 1000 });
    expect(store.apply(3, request("x", attach))).toMatchObject({ type: "put" });
    expect(store.leaseTimeToLive(7).keys).toHaveLength(1);
  });

  it("forget the oldest requests once the window is full by count", () => {
    const store = new KvStore({ requestWindow: { maxEntries: 2, maxBytes: 1 << 20 } });
    store.apply(1, request("a", put("k", "1")));
    store.apply(2, request("b", put("k", "2")));
    store.apply(3, request("c", put("k", "3")));
    const revision = store.revision;
    store.apply(4, request("c", put("k", "3")));
    store.apply(5, request("b", put("k", "2")));
    expect(store.revision).toBe(revision);
    // "a" fell out of the window: its late retry applies again.
    store.apply(6, request("a", put("k", "1")));
    expect(store.revision).toBe(revision + 1);
  });

  it("forget the oldest requests once the window is full by bytes", () => {
    const store = new KvStore({ requestWindow: { maxEntries: 1000, maxBytes: 300 } });
    const big = "x".repeat(200);
    store.apply(1, request("a", put("k", big)));
    // prev_kv makes the remembered result carry the 200-byte value.
    store.apply(2, request("b", { type: "put", key: utf8("k"), value: utf8(big), prevKv: true }));
    const revision = store.revision;
    store.apply(3, request("a", put("k", big)));
    expect(store.revision).toBe(revision + 1);
  });

  it("survive a snapshot and restore, oldest-first order included", async () => {
    const window = { maxEntries: 3, maxBytes: 1 << 20 };
    const source = new KvStore({ requestWindow: window });
    for (const [i, id] of ["a", "b", "c"].entries()) source.apply(i + 1, request(id, put("k", id)));
    const copy = new KvStore({ requestWindow: window });
    await copy.restore(replay(await bytesOf(source.snapshot())));
    const revision = copy.revision;
    expect(copy.apply(4, request("b", put("k", "b")))).toEqual(
      source.apply(4, request("b", put("k", "b"))),
    );
    expect(copy.revision).toBe(revision);
    // One new request pushes out "a", the oldest, on both replicas alike.
    copy.apply(5, request("d", put("k", "d")));
    copy.apply(6, request("a", put("k", "a")));
    expect(copy.revision).toBe(revision + 2);
  });

  it("are validated: id shape, a write inside, no nesting", () => {
    const store = new KvStore();
    const refused = (command: unknown) =>
      (store.apply(1, command as KvCommand) as { type: string }).type;
    expect(refused(request("", put("a", "1")))).toBe("error");
    expect(refused(request("has space", put("a", "1")))).toBe("error");
    expect(refused(request("x".repeat(65), put("a", "1")))).toBe("error");
    expect(refused(request("ok", { type: "range", key: utf8("a") }))).toBe("error");
    expect(refused(request("ok", request("inner", put("a", "1"))))).toBe("error");
    expect(refused({ type: "request", id: "ok", command: put("a", "1"), extra: 1 })).toBe("error");
    expect(store.revision).toBe(1);
  });
});
