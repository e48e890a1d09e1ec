/**
 * Key-space rules where etcd 3.4's answers are specific and the differential
 * test against a real etcd (test/etcd-api/differential.test.ts) first found
 * Conclave to differ: each case here is what that etcd answered.
 */
import { describe, expect, it } from "vitest";
import {
  CompactedError,
  DuplicateKeyError,
  KeyNotFoundError,
  type KvCommand,
  type KvResult,
  KvStore,
  LeaseNotFoundError,
  type TxnOp,
  utf8,
  validateCommand,
  type WatchResponse,
} from "../../src/kv/index.js";
import { text } from "./ops.js";

const b = utf8;

class Harness {
  readonly store = new KvStore();
  private index = 0;
  run(cmd: KvCommand): KvResult {
    return this.store.apply(++this.index, cmd);
  }
  put(key: string, value = "v"): void {
    this.run({ type: "put", key: b(key), value: b(value) });
  }
}

const put = (key: string): TxnOp => ({ type: "put", key: b(key), value: b("v") });
const del = (key: string, rangeEnd?: string): TxnOp => ({
  type: "deleteRange",
  key: b(key),
  ...(rangeEnd !== undefined && { rangeEnd: b(rangeEnd) }),
});
const txn = (success: TxnOp[], failure: TxnOp[] = []): KvCommand & { type: "txn" } => ({
  type: "txn",
  compare: [],
  success,
  failure,
});

function accepted(command: KvCommand): boolean {
  try {
    validateCommand(command);
    return true;
  } catch (e) {
    if (e instanceof DuplicateKeyError) return false;
    throw e;
  }
}

describe("duplicate keys in a txn, by etcd's rule", () => {
  it("refuses a key put twice, or put inside a range deleted at its level", () => {
    expect(accepted(txn([put("a"), put("a")]))).toBe(false);
    expect(accepted(txn([del("a", "c"), put("b")]))).toBe(false);
    expect(accepted(txn([put("b"), del("a", "c")]))).toBe(false);
    expect(accepted(txn([del("b"), put("b")]))).toBe(false);
  });

  it("lets the two branches of a nested txn put the same key", () => {
    expect(accepted(txn([txn([put("k")], [put("k")])]))).toBe(true);
    expect(accepted(txn([txn([put("k")], [put("j")]), put("k")]))).toBe(false);
  });

  it("lets a nested txn's branch delete what its other branch puts", () => {
    expect(accepted(txn([txn([put("c")], [txn([del("c", "e")])])]))).toBe(true);
  });

  it("checks a nested put against deletes before it, not after", () => {
    expect(accepted(txn([txn([del("a", "c")]), txn([put("b")])]))).toBe(false);
    expect(accepted(txn([txn([put("b")]), txn([del("a", "c")])]))).toBe(true);
  });

  it("sees no key in a delete to the end of the key space ('\\0')", () => {
    expect(accepted(txn([del("a", "\0"), put("b")]))).toBe(true);
  });
});

describe("txn answers", () => {
  it("give each op the revision etcd does: the old one until the txn has written", () => {
    const h = new Harness();
    h.put("k"); // revision 2
    h.put("m"); // revision 3
    const r = h.run(
      txn([
        { type: "range", key: b("k") },
        del("none"),
        put("k"),
        { type: "range", key: b("k") },
        del("m"),
        txn([put("n")]),
      ]),
    );
    if (r.type !== "txn") throw new Error(`expected a txn result, got ${r.type}`);
    expect(r.revision).toBe(4);
    expect(r.responses.map((o) => o.revision)).toEqual([3, 3, 4, 4, 4, 4]);
  });

  it("refuse a put inside a txn for its missing key before its missing lease; a put alone the other way", () => {
    const h = new Harness();
    const orphan = {
      type: "put" as const,
      key: b("absent"),
      value: b(""),
      lease: 99,
      ignoreValue: true,
    };
    const inTxn = h.run(txn([orphan]));
    expect(inTxn.type === "error" && inTxn.error).toBeInstanceOf(KeyNotFoundError);
    const alone = h.run(orphan);
    expect(alone.type === "error" && alone.error).toBeInstanceOf(LeaseNotFoundError);
  });
});

describe("watch events of a key written twice in one txn", () => {
  it("carry as prev_kv the key before the txn, live and replayed, as etcd's do", () => {
    const h = new Harness();
    h.put("k", "before"); // revision 2
    const start = h.store.revision + 1;
    const live: string[] = [];
    const show = (r: WatchResponse) => {
      for (const e of r.events) live.push(`${e.type} ${e.prevKv ? text(e.prevKv.value) : "-"}`);
    };
    h.store.watch({ key: b("k"), startRevision: start, prevKv: true }, show);
    // A put in one nested txn and a delete of the same key in a later one: etcd accepts it.
    const r = h.run(txn([txn([put("k")]), txn([del("k")])]));
    expect(r.type).toBe("txn");
    expect(live).toEqual(["put before", "delete before"]);
    live.length = 0;
    h.store.watch({ key: b("k"), startRevision: start, prevKv: true }, show);
    expect(live).toEqual(["put before", "delete before"]);
  });
});

describe("compaction", () => {
  it("refuses revision 0 as compacted, as etcd does", () => {
    const h = new Harness();
    h.put("a");
    const r = h.run({ type: "compact", revision: 0 });
    expect(r.type === "error" && r.error).toBeInstanceOf(CompactedError);
  });
});

describe("range revision bounds", () => {
  it("filters kvs by mod and create revision after counting, and limits what is left", () => {
    const h = new Harness();
    h.put("a"); // 2
    h.put("b"); // 3
    h.put("c"); // 4
    h.put("a", "again"); // 5
    const range = (extra: object) => h.store.range({ key: b("a"), rangeEnd: b("z"), ...extra });
    const keys = (r: ReturnType<typeof range>) => r.kvs.map((kv) => text(kv.key));
    expect(keys(range({ minModRevision: 4 }))).toEqual(["a", "c"]);
    expect(keys(range({ maxModRevision: 3 }))).toEqual(["b"]);
    expect(keys(range({ minCreateRevision: 3 }))).toEqual(["b", "c"]);
    expect(keys(range({ maxCreateRevision: 2 }))).toEqual(["a"]);
    const limited = range({ minModRevision: 3, limit: 1 });
    expect(keys(limited)).toEqual(["a"]);
    expect(limited.more).toBe(true);
    // As etcd: the count is the interval's, before the bounds.
    expect(limited.count).toBe(3);
    const last = range({ minModRevision: 5, limit: 1 });
    expect(last.more).toBe(false);
  });
});
