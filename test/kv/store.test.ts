import { describe, expect, it } from "vitest";
import { ConclaveError } from "../../src/errors.js";
import {
  CompactedError,
  DuplicateKeyError,
  decodeCommand,
  encodeCommand,
  FutureRevisionError,
  InvalidKvCommandError,
  KeyNotFoundError,
  type KvCommand,
  type KvResult,
  KvStore,
  LeaseExistsError,
  LeaseNotFoundError,
  LeaseProvidedError,
  LeaseRenewedError,
  prefixEnd,
  utf8,
  ValueProvidedError,
  validateCommand,
} from "../../src/kv/index.js";
import { encodeSnapshot } from "../../src/kv/snapshot.js";
import { text } from "./ops.js";

const b = utf8;

function ok<T extends KvResult["type"]>(result: KvResult, type: T): Extract<KvResult, { type: T }> {
  if (result.type === "error") throw result.error;
  expect(result.type).toBe(type);
  return result as Extract<KvResult, { type: T }>;
}

function failure(result: KvResult): Error {
  if (result.type !== "error") throw new Error(`expected an error, got ${result.type}`);
  return result.error;
}

class Harness {
  readonly store = new KvStore();
  private index = 0;
  run(cmd: KvCommand): KvResult {
    return this.store.apply(++this.index, cmd);
  }
  put(key: string, value: string, extra: Partial<KvCommand & { type: "put" }> = {}) {
    return ok(this.run({ type: "put", key: b(key), value: b(value), ...extra }), "put");
  }
  keys(key: string, rangeEnd?: Uint8Array, revision?: number): string[] {
    return this.store
      .range({ key: b(key), ...(rangeEnd ? { rangeEnd } : {}), ...(revision ? { revision } : {}) })
      .kvs.map((kv) => `${text(kv.key)}=${text(kv.value)}`);
  }
}

describe("revisions and put", () => {
  it("starts at revision 1 and bumps once per write with create/mod/version like etcd", () => {
    const h = new Harness();
    expect(h.store.revision).toBe(1);
    expect(h.put("a", "1").revision).toBe(2);
    expect(h.put("a", "2", { prevKv: true }).prevKv?.value).toEqual(b("1"));
    const [kv] = h.store.range({ key: b("a") }).kvs;
    expect(kv).toMatchObject({ createRevision: 2, modRevision: 3, version: 2, lease: 0 });
    ok(h.run({ type: "deleteRange", key: b("a") }), "deleteRange");
    h.put("a", "3");
    expect(h.store.range({ key: b("a") }).kvs[0]).toMatchObject({
      createRevision: 5,
      modRevision: 5,
      version: 1,
    });
    expect(h.keys("a", undefined, 3)).toEqual(["a=2"]);
    expect(h.keys("a", undefined, 4)).toEqual([]);
  });

  it("does not bump the revision for a delete that matches nothing", () => {
    const h = new Harness();
    const r = ok(h.run({ type: "deleteRange", key: b("nothing") }), "deleteRange");
    expect(r).toMatchObject({ deleted: 0, revision: 1 });
  });

  it("ignoreValue / ignoreLease keep the current value and lease, with etcd's errors", () => {
    const h = new Harness();
    ok(h.run({ type: "leaseGrant", id: 7, ttlMs: 5000 }), "leaseGrant");
    h.put("k", "v", { lease: 7 });
    h.put("k", "", { ignoreValue: true });
    expect(h.store.range({ key: b("k") }).kvs[0]).toMatchObject({ value: b("v"), lease: 0 });
    h.put("k", "w", { lease: 7 });
    h.put("k", "x", { ignoreLease: true });
    expect(h.store.range({ key: b("k") }).kvs[0]).toMatchObject({ value: b("x"), lease: 7 });
    expect(
      failure(h.run({ type: "put", key: b("nope"), value: b(""), ignoreValue: true })),
    ).toBeInstanceOf(KeyNotFoundError);
    expect(
      failure(h.run({ type: "put", key: b("k"), value: b("v"), ignoreValue: true })),
    ).toBeInstanceOf(ValueProvidedError);
    expect(
      failure(h.run({ type: "put", key: b("k"), value: b(""), lease: 7, ignoreLease: true })),
    ).toBeInstanceOf(LeaseProvidedError);
    expect(failure(h.run({ type: "put", key: b("k"), value: b("v"), lease: 99 }))).toBeInstanceOf(
      LeaseNotFoundError,
    );
  });
});

describe("range", () => {
  const h = new Harness();
  h.put("a", "3");
  h.put("b", "1");
  h.put("b", "2");
  h.put("c", "0");
  h.put("d/1", "x");
  h.put("d/2", "y");

  it("reads a prefix, an interval and everything from a key", () => {
    expect(h.keys("d/", prefixEnd(b("d/")))).toEqual(["d/1=x", "d/2=y"]);
    expect(h.keys("b", b("d"))).toEqual(["b=2", "c=0"]);
    expect(h.keys("c", Uint8Array.of(0))).toEqual(["c=0", "d/1=x", "d/2=y"]);
    expect(h.keys("z", b("a"))).toEqual([]);
  });

  it("sorts, limits, and reports count and more", () => {
    const r = h.store.range({
      key: b("a"),
      rangeEnd: Uint8Array.of(0),
      sortTarget: "value",
      sortOrder: "descend",
      limit: 2,
    });
    expect(r.kvs.map((kv) => text(kv.key))).toEqual(["d/2", "d/1"]);
    expect(r).toMatchObject({ count: 5, more: true });
    const byVersion = h.store.range({
      key: b("a"),
      rangeEnd: b("c"),
      sortTarget: "version",
      sortOrder: "descend",
    });
    expect(byVersion.kvs.map((kv) => text(kv.key))).toEqual(["b", "a"]);
    const byMod = h.store.range({
      key: b("a"),
      rangeEnd: Uint8Array.of(0),
      sortTarget: "mod",
      sortOrder: "ascend",
    });
    expect(byMod.kvs.map((kv) => text(kv.key))).toEqual(["a", "b", "c", "d/1", "d/2"]);
  });

  it("keysOnly drops values, countOnly drops keys", () => {
    const keysOnly = h.store.range({ key: b("a"), rangeEnd: b("b"), keysOnly: true });
    expect(keysOnly.kvs[0]?.value.byteLength).toBe(0);
    const countOnly = h.store.range({ key: b("a"), rangeEnd: Uint8Array.of(0), countOnly: true });
    expect(countOnly).toMatchObject({ kvs: [], count: 5 });
  });

  it("rejects future and compacted revisions with typed errors", () => {
    const s = new Harness();
    s.put("k", "1");
    s.put("k", "2");
    s.put("k", "3");
    expect(() => s.store.range({ key: b("k"), revision: 9 })).toThrow(FutureRevisionError);
    ok(s.run({ type: "compact", revision: 3 }), "compact");
    expect(() => s.store.range({ key: b("k"), revision: 2 })).toThrow(CompactedError);
    expect(s.keys("k", undefined, 3)).toEqual(["k=2"]);
    expect(failure(s.run({ type: "compact", revision: 3 }))).toBeInstanceOf(CompactedError);
    expect(failure(s.run({ type: "compact", revision: 50 }))).toBeInstanceOf(FutureRevisionError);
    expect(() => s.store.watch({ key: b("k"), startRevision: 2 }, () => {})).toThrow(
      CompactedError,
    );
  });
});

describe("txn", () => {
  it("takes then or else by compares on value, version, create, mod and lease", () => {
    const h = new Harness();
    h.put("k", "v");
    const cases: [KvCommand & { type: "txn" }, boolean][] = [
      [
        {
          type: "txn",
          compare: [{ key: b("k"), target: "value", result: "equal", value: b("v") }],
          success: [],
          failure: [],
        },
        true,
      ],
      [
        {
          type: "txn",
          compare: [{ key: b("k"), target: "value", result: "greater", value: b("a") }],
          success: [],
          failure: [],
        },
        true,
      ],
      [
        {
          type: "txn",
          compare: [{ key: b("k"), target: "version", result: "less", value: 1 }],
          success: [],
          failure: [],
        },
        false,
      ],
      [
        {
          type: "txn",
          compare: [{ key: b("k"), target: "create", result: "equal", value: 2 }],
          success: [],
          failure: [],
        },
        true,
      ],
      [
        {
          type: "txn",
          compare: [{ key: b("k"), target: "mod", result: "notEqual", value: 2 }],
          success: [],
          failure: [],
        },
        false,
      ],
      [
        {
          type: "txn",
          compare: [{ key: b("k"), target: "lease", result: "equal", value: 0 }],
          success: [],
          failure: [],
        },
        true,
      ],
      [
        {
          type: "txn",
          compare: [{ key: b("missing"), target: "create", result: "equal", value: 0 }],
          success: [],
          failure: [],
        },
        true,
      ],
      [
        {
          type: "txn",
          compare: [{ key: b("missing"), target: "value", result: "notEqual", value: b("x") }],
          success: [],
          failure: [],
        },
        false,
      ],
    ];
    for (const [cmd, expected] of cases) expect(ok(h.run(cmd), "txn").succeeded).toBe(expected);
  });

  it("writes all its ops at one revision; ranges inside see earlier writes; nested txns run", () => {
    const h = new Harness();
    h.put("x", "0");
    const r = ok(
      h.run({
        type: "txn",
        compare: [{ key: b("x"), target: "version", result: "equal", value: 1 }],
        success: [
          { type: "put", key: b("a"), value: b("1") },
          { type: "range", key: b("a") },
          {
            type: "txn",
            compare: [{ key: b("a"), target: "version", result: "equal", value: 0 }],
            success: [{ type: "put", key: b("b"), value: b("nested") }],
            failure: [],
          },
          { type: "deleteRange", key: b("x"), prevKv: true },
        ],
        failure: [],
      }),
      "txn",
    );
    expect(r.revision).toBe(3);
    expect(r.responses[1]).toMatchObject({ type: "range", count: 1, revision: 3 });
    // The nested compare saw the store before the txn, where "a" did not exist.
    expect(r.responses[2]).toMatchObject({ type: "txn", succeeded: true });
    expect(h.keys("a", Uint8Array.of(0))).toEqual(["a=1", "b=nested"]);
    const all = h.store.range({ key: b("a"), rangeEnd: Uint8Array.of(0) }).kvs;
    expect(all.map((kv) => kv.modRevision)).toEqual([3, 3]);
  });

  it("rejects writing a key twice in a branch, and a put inside a deleted range", () => {
    const put = (k: string): KvCommand => ({ type: "put", key: b(k), value: b("") });
    const dup = { type: "txn", compare: [], success: [put("a"), put("a")], failure: [] };
    expect(() => validateCommand(dup)).toThrow(DuplicateKeyError);
    const inDelete = {
      type: "txn",
      compare: [],
      success: [{ type: "deleteRange", key: b("a"), rangeEnd: b("c") }, put("b")],
      failure: [],
    };
    expect(() => validateCommand(inDelete)).toThrow(DuplicateKeyError);
    const nested = {
      type: "txn",
      compare: [],
      success: [put("a"), { type: "txn", compare: [], success: [], failure: [put("a")] }],
      failure: [],
    };
    expect(() => validateCommand(nested)).toThrow(DuplicateKeyError);
    const sameKeyOtherBranch = {
      type: "txn",
      compare: [],
      success: [put("a")],
      failure: [put("a")],
    };
    expect(validateCommand(sameKeyOtherBranch).type).toBe("txn");
  });

  it("leaves the store unchanged when any op in the taken branch fails", () => {
    const h = new Harness();
    const r = h.run({
      type: "txn",
      compare: [],
      success: [
        { type: "put", key: b("a"), value: b("1") },
        { type: "put", key: b("b"), value: b("1"), lease: 5 },
      ],
      failure: [],
    });
    expect(failure(r)).toBeInstanceOf(LeaseNotFoundError);
    expect(h.store.revision).toBe(1);
    expect(h.keys("a")).toEqual([]);
  });
});

describe("leases", () => {
  it("grants with chosen or assigned ids, lists, reports attached keys, revokes at one revision", () => {
    const h = new Harness();
    expect(ok(h.run({ type: "leaseGrant", id: 1, ttlMs: 1000 }), "leaseGrant").id).toBe(1);
    expect(ok(h.run({ type: "leaseGrant", ttlMs: 2000 }), "leaseGrant").id).toBe(2);
    expect(failure(h.run({ type: "leaseGrant", id: 2, ttlMs: 5 }))).toBeInstanceOf(
      LeaseExistsError,
    );
    h.put("a", "1", { lease: 1 });
    h.put("b", "1", { lease: 1 });
    h.put("c", "1", { lease: 2 });
    h.put("b", "2"); // detaches b
    expect(h.store.leaseTimeToLive(1).keys.map(text)).toEqual(["a"]);
    expect(h.store.leases().map((l) => [l.id, l.ttlMs])).toEqual([
      [1, 1000],
      [2, 2000],
    ]);
    expect(ok(h.run({ type: "leaseKeepAlive", id: 2 }), "leaseKeepAlive").ttlMs).toBe(2000);
    h.put("d", "1", { lease: 1 });
    const before = h.store.revision;
    const revoked = ok(h.run({ type: "leaseRevoke", id: 1 }), "leaseRevoke");
    expect(revoked).toMatchObject({ deletedKeys: 2, revision: before + 1 });
    expect(h.keys("a", Uint8Array.of(0))).toEqual(["b=2", "c=1"]);
    expect(() => h.store.leaseTimeToLive(1)).toThrow(LeaseNotFoundError);
    expect(failure(h.run({ type: "leaseKeepAlive", id: 1 }))).toBeInstanceOf(LeaseNotFoundError);
  });
});

describe("expiry revokes are conditional on the renewals the leader saw", () => {
  it("refuses a revoke decided before a keep-alive that applied first, and keeps the keys", () => {
    const h = new Harness();
    ok(h.run({ type: "leaseGrant", id: 1, ttlMs: 1000 }), "leaseGrant");
    h.put("lock", "holder", { lease: 1 });
    ok(h.run({ type: "leaseKeepAlive", id: 1 }), "leaseKeepAlive");
    const revision = h.store.revision;
    expect(failure(h.run({ type: "leaseRevoke", id: 1, ifRenewals: 0 }))).toBeInstanceOf(
      LeaseRenewedError,
    );
    expect(h.store.revision).toBe(revision);
    expect(h.keys("lock")).toEqual(["lock=holder"]);
    expect(
      ok(h.run({ type: "leaseRevoke", id: 1, ifRenewals: 1 }), "leaseRevoke").deletedKeys,
    ).toBe(1);
    expect(h.keys("lock")).toEqual([]);
  });

  it("carries the renewal count through a snapshot, so every replica decides alike", async () => {
    const h = new Harness();
    ok(h.run({ type: "leaseGrant", id: 3, ttlMs: 1000 }), "leaseGrant");
    for (let i = 0; i < 2; i++) ok(h.run({ type: "leaseKeepAlive", id: 3 }), "leaseKeepAlive");
    const chunks: Uint8Array[] = [];
    for await (const c of h.store.snapshot()) chunks.push(c);
    const copy = new KvStore();
    await copy.restore(
      (async function* () {
        yield* chunks;
      })(),
    );
    expect(copy.leaseRenewals()).toEqual([{ id: 3, ttlMs: 1000, renewals: 2 }]);
    expect(failure(copy.apply(100, { type: "leaseRevoke", id: 3, ifRenewals: 1 }))).toBeInstanceOf(
      LeaseRenewedError,
    );
    ok(copy.apply(101, { type: "leaseRevoke", id: 3, ifRenewals: 2 }), "leaseRevoke");
  });
});

describe("commands at the boundary", () => {
  it("round-trips through the binary encoding and applies from a Raft entry", () => {
    const cmd: KvCommand = {
      type: "txn",
      compare: [{ key: b("k"), target: "mod", result: "less", value: 2 ** 40 }],
      success: [
        { type: "put", key: b("k"), value: Uint8Array.of(0, 255, 1), lease: 0, prevKv: true },
      ],
      failure: [{ type: "range", key: b("k"), rangeEnd: Uint8Array.of(0), sortTarget: "create" }],
    };
    expect(validateCommand(decodeCommand(encodeCommand(cmd)))).toEqual(validateCommand(cmd));
    const store = new KvStore();
    const r = store.apply({ index: 3, term: 1, data: encodeCommand(cmd) });
    expect(r).toMatchObject({ type: "txn", succeeded: true, revision: 2 });
    expect(store.appliedIndex).toBe(3);
  });

  it("leaves an entry's bytes as they were: nothing added to the array it decodes", () => {
    // The log keeps an entry's bytes as long as it keeps the entry; a property
    // the decoder hung on them would live as long, on every replica.
    const data = encodeCommand({ type: "put", key: b("k"), value: b("v"), lease: 0 });
    const entry = { index: 1, term: 1, data: new Uint8Array(data) };
    const store = new KvStore();
    store.apply(entry);
    expect(decodeCommand(entry.data)).toMatchObject({ type: "put" });
    expect(Reflect.ownKeys(entry.data)).toEqual(Object.keys(entry.data));
    expect(Object.keys(entry.data)).toHaveLength(entry.data.length);
  });

  it("turns malformed bytes and fields into typed errors without changing the store", () => {
    const store = new KvStore();
    const bad: unknown[] = [
      null,
      { type: "explode" },
      { type: "put", key: "a string", value: b("") },
      { type: "put", key: b(""), value: b("") },
      { type: "put", key: b("k"), value: b(""), lease: -1 },
      { type: "put", key: b("k"), value: b(""), extra: 1 },
      { type: "range", key: b("k"), limit: 1.5 },
      { type: "range", key: b("k"), sortOrder: "sideways" },
      { type: "txn", compare: [{ key: b("k"), target: "value", result: "equal", value: 3 }] },
      { type: "txn", compare: [], success: [{ type: "compact", revision: 1 }] },
      { type: "compact", revision: -1 },
      { type: "leaseGrant", ttlMs: 0 },
      { type: "leaseRevoke", id: "1" },
    ];
    for (const raw of bad) {
      expect(() => validateCommand(raw)).toThrow(InvalidKvCommandError);
    }
    const garbage = store.apply({ index: 1, term: 1, data: Uint8Array.of(0xc1, 0xff, 0x00) });
    expect(failure(garbage)).toBeInstanceOf(ConclaveError);
    expect((failure(garbage) as ConclaveError).code).toBe("KV_INVALID_COMMAND");
    expect(store.revision).toBe(1);
  });
});

describe("local reads validate their input", () => {
  it("rejects bad range, watch and lease requests with typed errors", () => {
    const store = new KvStore();
    expect(() => store.range({ key: b("") })).toThrow(InvalidKvCommandError);
    expect(() => store.range({ key: b("k"), limit: -1 })).toThrow(InvalidKvCommandError);
    expect(() => store.watch({ key: b("k"), startRevision: 1.5 }, () => {})).toThrow(
      InvalidKvCommandError,
    );
    expect(() => store.watch({ key: "k" as unknown as Uint8Array }, () => {})).toThrow(
      InvalidKvCommandError,
    );
    expect(() => store.leaseTimeToLive(0)).toThrow(InvalidKvCommandError);
    expect(store.watcherCount).toBe(0);
  });
});

describe("lease checkpoints", () => {
  it("keeps a checkpointed remaining TTL until a grant, a clear or a revoke", () => {
    const h = new Harness();
    ok(h.run({ type: "leaseGrant", id: 1, ttlMs: 5000 }), "leaseGrant");
    ok(h.run({ type: "leaseGrant", id: 2, ttlMs: 5000 }), "leaseGrant");
    const revision = h.store.revision;
    ok(
      h.run({
        type: "leaseCheckpoint",
        checkpoints: [
          [1, 1200],
          [2, 4000],
          [9, 10], // revoked since: skipped
        ],
      }),
      "leaseCheckpoint",
    );
    expect(h.store.revision).toBe(revision);
    expect(h.store.leaseRenewals()).toEqual([
      { id: 1, ttlMs: 5000, renewals: 0, remainingMs: 1200 },
      { id: 2, ttlMs: 5000, renewals: 0, remainingMs: 4000 },
    ]);
    // A full TTL clears it: the leader renewed the lease.
    ok(h.run({ type: "leaseCheckpoint", checkpoints: [[2, 5000]] }), "leaseCheckpoint");
    expect(h.store.leaseState(2)).toEqual({ id: 2, ttlMs: 5000, renewals: 0 });
    ok(h.run({ type: "leaseRevoke", id: 1 }), "leaseRevoke");
    ok(h.run({ type: "leaseGrant", id: 1, ttlMs: 5000 }), "leaseGrant");
    expect(h.store.leaseState(1)).toEqual({ id: 1, ttlMs: 5000, renewals: 0 });
  });

  it("carries checkpoints through a snapshot and still reads older lease tuples", async () => {
    const h = new Harness();
    ok(h.run({ type: "leaseGrant", id: 4, ttlMs: 5000 }), "leaseGrant");
    ok(h.run({ type: "leaseCheckpoint", checkpoints: [[4, 700]] }), "leaseCheckpoint");
    const copy = new KvStore();
    await copy.restore(h.store.snapshot());
    expect(copy.leaseState(4)).toEqual({ id: 4, ttlMs: 5000, renewals: 0, remainingMs: 700 });

    const old = new KvStore();
    await old.restore(
      encodeSnapshot({
        header: {
          v: 1,
          revision: 1,
          compactRevision: 0,
          appliedIndex: 7,
          nextLeaseId: 3,
          leases: [
            [1, 1000],
            [2, 2000, 3],
          ],
        },
        histories: [],
        requests: [],
      }),
    );
    expect(old.leaseRenewals()).toEqual([
      { id: 1, ttlMs: 1000, renewals: 0 },
      { id: 2, ttlMs: 2000, renewals: 3 },
    ]);
  });

  it("validates checkpoint entries at the boundary", () => {
    const good: KvCommand = { type: "leaseCheckpoint", checkpoints: [[1, 0]] };
    expect(decodeCommand(encodeCommand(good))).toEqual(good);
    for (const bad of [
      { type: "leaseCheckpoint", checkpoints: [] },
      { type: "leaseCheckpoint", checkpoints: [[0, 5]] },
      { type: "leaseCheckpoint", checkpoints: [[1, -1]] },
      { type: "leaseCheckpoint", checkpoints: [[1, 2, 3]] },
      { type: "leaseCheckpoint", checkpoints: Array.from({ length: 1001 }, (_, i) => [i + 1, 1]) },
      { type: "leaseCheckpoint", checkpoints: [[1, 1]], extra: 1 },
    ]) {
      expect(() => validateCommand(bad)).toThrow(InvalidKvCommandError);
    }
  });
});
