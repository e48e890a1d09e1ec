import { describe, expect, it } from "vitest";
import { KvStore, prefixEnd, type RangeResult, utf8 } from "../../src/kv/index.js";

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");

/** A seeded generator, so value sizes vary the same way on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

function storeWith(keys: number, valueBytes: (i: number) => number): KvStore {
  const store = new KvStore();
  let index = 0;
  for (let i = 0; i < keys; i++) {
    const key = utf8(`key/${String(i).padStart(5, "0")}`);
    store.apply(++index, { type: "put", key, value: new Uint8Array(valueBytes(i)).fill(97) });
  }
  // Noise outside the range, and a deleted key inside it, which no page may show.
  store.apply(++index, { type: "put", key: utf8("kez"), value: utf8("outside") });
  store.apply(++index, { type: "deleteRange", key: utf8("key/00003") });
  return store;
}

const pageBytes = (r: RangeResult) =>
  r.kvs.reduce((n, kv) => n + kv.key.byteLength + kv.value.byteLength, 0);

describe("range byte budget with continuation", () => {
  it("pages through a big range: every key exactly once, in order, each page within the budget", () => {
    const random = seeded(42);
    const store = storeWith(500, () => Math.floor(random() * 2000));
    const maxBytes = 16 * 1024;
    const rangeEnd = prefixEnd(utf8("key/"));
    const seen: string[] = [];
    let key = utf8("key/");
    let revision = 0;
    let pages = 0;
    for (;;) {
      const page = store.range({ key, rangeEnd, revision }, { maxBytes });
      pages++;
      expect(page.kvs.length).toBeGreaterThan(0);
      expect(pageBytes(page)).toBeLessThanOrEqual(maxBytes);
      if (revision === 0) expect(page.count).toBe(499);
      seen.push(...page.kvs.map((kv) => text(kv.key)));
      if (!page.more) {
        expect(page.nextKey).toBeUndefined();
        break;
      }
      expect(text(page.nextKey!) > text(page.kvs.at(-1)!.key)).toBe(true);
      key = page.nextKey!;
      revision = page.revision;
    }
    const expected = Array.from(
      { length: 500 },
      (_, i) => `key/${String(i).padStart(5, "0")}`,
    ).filter((k) => k !== "key/00003");
    expect(seen).toEqual(expected);
    expect(pages).toBeGreaterThan(10);
  });

  it("reads a pinned revision on later pages, whatever was written since", () => {
    const store = storeWith(50, () => 100);
    const rangeEnd = prefixEnd(utf8("key/"));
    const first = store.range({ key: utf8("key/"), rangeEnd }, { maxBytes: 1000 });
    expect(first.more).toBe(true);
    store.apply(1000, { type: "deleteRange", key: utf8("key/"), rangeEnd });
    const second = store.range(
      { key: first.nextKey!, rangeEnd, revision: first.revision },
      { maxBytes: 1000 },
    );
    expect(text(second.kvs[0]!.key)).toBe(text(first.nextKey!));
  });

  it("answers one key larger than the budget on its own, so paging makes progress", () => {
    const store = storeWith(3, () => 5000);
    const page = store.range({ key: utf8("key/"), rangeEnd: utf8("key0") }, { maxBytes: 100 });
    expect(page.kvs).toHaveLength(1);
    expect(page.more).toBe(true);
    expect(text(page.nextKey!)).toBe("key/00001");
  });

  it("counts key bytes only with keysOnly, and gives a next key when a limit cuts too", () => {
    const store = storeWith(100, () => 1000);
    const iv = { key: utf8("key/"), rangeEnd: utf8("key0") };
    expect(store.range({ ...iv, keysOnly: true }, { maxBytes: 10_000 }).kvs).toHaveLength(99);
    const limited = store.range({ ...iv, limit: 5 }, { maxBytes: 1 << 20 });
    expect(limited.kvs).toHaveLength(5);
    expect(limited.more).toBe(true);
    expect(limited.count).toBe(99);
    expect(text(limited.nextKey!)).toBe("key/00006");
  });

  it("cuts a sorted range at the budget without a next key, since it cannot be continued by key", () => {
    const store = storeWith(20, () => 100);
    const page = store.range(
      { key: utf8("key/"), rangeEnd: utf8("key0"), sortTarget: "mod", sortOrder: "descend" },
      { maxBytes: 500 },
    );
    expect(page.more).toBe(true);
    expect(page.nextKey).toBeUndefined();
    expect(pageBytes(page)).toBeLessThanOrEqual(500);
    expect(text(page.kvs[0]!.key)).toBe("key/00019");
  });

  it("refuses a budget that is not a positive integer", () => {
    const store = new KvStore();
    expect(() => store.range({ key: utf8("a") }, { maxBytes: 0 })).toThrow(/maxBytes/);
  });
});

describe("range byte budget inside a txn", () => {
  it("shares one budget across the txn's ranges, each still answering at least one key", () => {
    const store = new KvStore({ maxTxnRangeBytes: 3000 });
    let index = 0;
    for (let i = 0; i < 10; i++) {
      const key = utf8(`t/${i}`);
      store.apply(++index, { type: "put", key, value: new Uint8Array(1000) });
    }
    const range = { type: "range" as const, key: utf8("t/"), rangeEnd: utf8("t0") };
    const result = store.apply(++index, {
      type: "txn",
      compare: [],
      success: [range, range],
      failure: [],
    });
    if (result.type !== "txn") throw new Error(`expected a txn result, got ${result.type}`);
    const [first, second] = result.responses;
    if (first?.type !== "range" || second?.type !== "range") throw new Error("expected ranges");
    expect(first.kvs.map((kv) => text(kv.key))).toEqual(["t/0", "t/1"]);
    expect(first.more).toBe(true);
    expect(text(first.nextKey!)).toBe("t/2");
    expect(first.count).toBe(10);
    expect(second.kvs).toHaveLength(1);
    expect(second.more).toBe(true);
  });
});
