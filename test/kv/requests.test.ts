import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { encodeCommand } from "../../src/kv/codec.js";
import {
  commandDigest,
  IdempotencyKeyReusedError,
  type KvCommand,
  type KvResult,
  KvStore,
  type PutCommand,
  utf8,
} from "../../src/kv/index.js";
import { decodeSnapshot, encodeSnapshot } from "../../src/kv/snapshot.js";

const packr = new Packr({ useRecords: false, moreTypes: false });

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

  it("answer the requests still in a full window exactly while older ones are let go, small and large", async () => {
    const store = new KvStore({ requestWindow: { maxEntries: 200, maxBytes: 1 << 20 } });
    const big = "w".repeat(20_000);
    const commandOf = (i: number): KvCommand =>
      i % 97 === 0
        ? { type: "put", key: utf8("big"), value: utf8(big), prevKv: true }
        : put(`k${i % 50}`, `value ${i}`);
    const first: KvResult[] = [];
    for (let i = 0; i < 3000; i++) first.push(store.apply(i + 1, request(`r${i}`, commandOf(i))));
    const copy = new KvStore({ requestWindow: { maxEntries: 200, maxBytes: 1 << 20 } });
    await copy.restore(replay(await bytesOf(store.snapshot())));
    for (const replica of [store, copy]) {
      const revision = replica.revision;
      for (let i = 2800; i < 3000; i++) {
        expect(replica.apply(10_000 + i, request(`r${i}`, commandOf(i)))).toEqual(first[i]);
      }
      expect(replica.revision).toBe(revision);
      // Long forgotten: applies again.
      replica.apply(20_000, request("r5", commandOf(5)));
      expect(replica.revision).toBe(revision + 1);
    }
  });

  it("answer each of thousands of remembered requests with its own result, small and large, after a snapshot too", async () => {
    // Enough results to fill many of the log's internal slabs, with large
    // ones (prev_kv of a 20 KiB value) among them.
    const store = new KvStore();
    const big = "v".repeat(20_000);
    const first: KvResult[] = [];
    for (let i = 1; i <= 3000; i++) {
      const command: KvCommand =
        i % 500 === 0
          ? { type: "put", key: utf8("big"), value: utf8(big), prevKv: true }
          : put(`k${i}`, `value ${i}`);
      if (i % 500 === 499) store.apply(i * 2 - 1, put("big", big));
      first.push(store.apply(i * 2, request(`r${i}`, command)));
    }
    const copy = new KvStore();
    await copy.restore(replay(await bytesOf(store.snapshot())));
    const revision = store.revision;
    for (const replica of [store, copy]) {
      for (const i of [1, 2, 499, 500, 1000, 1777, 2999, 3000]) {
        const command: KvCommand =
          i % 500 === 0
            ? { type: "put", key: utf8("big"), value: utf8(big), prevKv: true }
            : put(`k${i}`, `value ${i}`);
        expect(replica.apply(10_000 + i, request(`r${i}`, command))).toEqual(first[i - 1]);
        // The same id with another command is still refused: its digest was kept.
        expect(replica.apply(20_000 + i, request(`r${i}`, put("other", "x")))).toMatchObject({
          type: "error",
          error: expect.any(IdempotencyKeyReusedError),
        });
      }
      expect(replica.revision).toBe(revision);
    }
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

describe("request ids bound to their command", () => {
  const del = (key: string): KvCommand => ({ type: "deleteRange", key: utf8(key) });
  const grant = (ttlMs: number): KvCommand => ({ type: "leaseGrant", ttlMs });

  it("refuse an id reused with a different command and apply nothing", () => {
    const store = new KvStore();
    store.apply(1, request("k1", put("a", "1")));
    const revision = store.revision;
    for (const [i, other] of [put("a", "2"), put("b", "1"), del("a"), grant(5000)].entries()) {
      const result = store.apply(2 + i, request("k1", other));
      expect(result).toMatchObject({ type: "error", error: { code: "IDEMPOTENCY_KEY_REUSED" } });
      expect(result).toMatchObject({ error: expect.any(IdempotencyKeyReusedError) });
    }
    expect(store.revision).toBe(revision);
    expect(store.leaseCount).toBe(0);
    expect(store.range({ key: utf8("a") }).kvs[0]?.value).toEqual(utf8("1"));
    // The refusal is not remembered: the first command's retry still gets its answer.
    expect(store.apply(9, request("k1", put("a", "1")))).toMatchObject({ type: "put", revision });
  });

  it("answer a retried delete and lease grant with their own first results", () => {
    const store = new KvStore();
    store.apply(1, put("a", "1"));
    const deleted = store.apply(2, request("d", del("a")));
    expect(deleted).toMatchObject({ type: "deleteRange", deleted: 1 });
    expect(store.apply(3, request("d", del("a")))).toEqual(deleted);
    const granted = store.apply(4, request("g", grant(5000)));
    expect(granted).toMatchObject({ type: "leaseGrant", ttlMs: 5000 });
    expect(store.apply(5, request("g", grant(5000)))).toEqual(granted);
    expect(store.leaseCount).toBe(1);
  });

  it("digest the canonical command: field order does not matter, content does", () => {
    const a = commandDigest({ type: "put", key: utf8("k"), value: utf8("v"), lease: 0 });
    const reordered = commandDigest({ lease: 0, value: utf8("v"), key: utf8("k"), type: "put" });
    const absentField = commandDigest({
      type: "put",
      key: utf8("k"),
      value: utf8("v"),
      lease: 0,
      prevKv: undefined,
    });
    expect(reordered).toEqual(a);
    expect(absentField).toEqual(a);
    expect(commandDigest({ type: "put", key: utf8("k"), value: utf8("w"), lease: 0 })).not.toEqual(
      a,
    );
  });

  it("make request entries of the fields earlier versions accept, so a member not yet upgraded applies them", () => {
    // An entry an older member cannot validate is applied there as a refused command: it
    // changes nothing on that member alone, which then differs from the others.
    const entry = packr.unpack(encodeCommand(request("r", put("a", "1")))) as Record<
      string,
      unknown
    >;
    expect(Object.keys(entry).sort()).toEqual(["command", "id", "type"]);
    expect(Object.keys(entry["command"] as object).sort()).toEqual(["key", "type", "value"]);
  });

  it("digest as every earlier version did: remembered digests outlive an upgrade", () => {
    const hex = (c: KvCommand) => Buffer.from(commandDigest(c as never)).toString("hex");
    expect(hex({ type: "put", key: utf8("k"), value: utf8("v"), lease: 7, prevKv: true })).toBe(
      "ff41b38f2050fd328362afe38eae74497437a63c5376fbe0a7f2a311c913b4be",
    );
    const txn: KvCommand = {
      type: "txn",
      compare: [{ key: utf8("a"), target: "version", result: "equal", value: 1 }],
      success: [
        { type: "put", key: utf8("a"), value: utf8("b") },
        { type: "deleteRange", key: utf8("c"), rangeEnd: utf8("d") },
      ],
      failure: [{ type: "range", key: utf8("a") }],
    };
    expect(hex(txn)).toBe("fbbd15187582bc74ad15ab2cbf2f9bbe11185e679c0bd9c788006265e022321d");
  });

  it("keep digests through a snapshot, so a restored replica refuses the same reuse", async () => {
    const source = new KvStore();
    source.apply(1, request("k", put("a", "1")));
    const copy = new KvStore();
    await copy.restore(replay(await bytesOf(source.snapshot())));
    const reuse = request("k", put("a", "2"));
    expect(copy.apply(2, reuse)).toEqual(source.apply(2, reuse));
    expect(copy.apply(3, reuse)).toMatchObject({ error: { code: "IDEMPOTENCY_KEY_REUSED" } });
    expect(copy.apply(4, request("k", put("a", "1")))).toMatchObject({ type: "put", revision: 2 });
  });

  it("load a snapshot from before digests and trust its entries for the same command type", async () => {
    const source = new KvStore();
    source.apply(1, request("p", put("a", "1")));
    const decoded = await decodeSnapshot(replay(await bytesOf(source.snapshot())));
    expect(decoded?.requests[0]).toHaveLength(3);
    const legacy = {
      ...decoded!,
      requests: decoded!.requests.map(([id, result]): [string, Uint8Array] => [id, result]),
    };
    const copy = new KvStore();
    await copy.restore(encodeSnapshot(legacy));
    expect(copy.apply(2, request("p", put("a", "1")))).toMatchObject({ type: "put", revision: 2 });
    // Without a digest, a command of another type cannot be told a retry: refused.
    expect(copy.apply(3, request("p", del("a")))).toMatchObject({
      error: { code: "IDEMPOTENCY_KEY_REUSED" },
    });
    expect(copy.range({ key: utf8("a") }).count).toBe(1);
  });
});
