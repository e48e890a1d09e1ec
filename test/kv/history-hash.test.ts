import { describe, expect, it } from "vitest";
import {
  CompactedError,
  FutureRevisionError,
  hashHistory,
  type KvCommand,
  KvStore,
  utf8,
} from "../../src/kv/index.js";

/** A store fed a fixed sequence of writes, as each replica of one log would be. */
function replica(): { store: KvStore; run(cmd: KvCommand): void } {
  const store = new KvStore();
  let index = 0;
  return {
    store,
    run(cmd) {
      const r = store.apply(++index, cmd);
      if (r.type === "error") throw r.error;
    },
  };
}

function writeHistory(r: ReturnType<typeof replica>): void {
  for (let i = 0; i < 50; i++) {
    r.run({ type: "put", key: utf8(`k/${i % 7}`), value: utf8(`v${i}`) });
  }
  r.run({ type: "deleteRange", key: utf8("k/3") });
  r.run({ type: "put", key: utf8("k/9"), value: utf8("last") });
}

describe("hashHistory (etcd's HashKV)", () => {
  it("is the same on replicas that applied the same log, whatever the slice size", async () => {
    const a = replica();
    const b = replica();
    writeHistory(a);
    writeHistory(b);
    const ha = await hashHistory(a.store.historyView(), 0);
    const hb = await hashHistory(b.store.historyView(), 0, { recordsPerSlice: 3 });
    expect(hb).toEqual(ha);
    expect(ha.hashRevision).toBe(a.store.revision);
    expect(ha.compactRevision).toBe(0);
    expect(ha.hash).toBeGreaterThanOrEqual(0);
    expect(ha.hash).toBeLessThan(2 ** 32);
  });

  it("hashes a past revision as it was, ignoring later writes", async () => {
    const a = replica();
    writeHistory(a);
    const at = a.store.revision;
    const before = await hashHistory(a.store.historyView(), at);
    a.run({ type: "put", key: utf8("k/1"), value: utf8("later") });
    expect(await hashHistory(a.store.historyView(), at)).toEqual(before);
    expect((await hashHistory(a.store.historyView(), 0)).hash).not.toBe(before.hash);
  });

  it("tells any changed value apart", async () => {
    const a = replica();
    const b = replica();
    writeHistory(a);
    writeHistory(b);
    a.run({ type: "put", key: utf8("x"), value: utf8("1") });
    b.run({ type: "put", key: utf8("x"), value: utf8("2") });
    const ha = await hashHistory(a.store.historyView(), 0);
    const hb = await hashHistory(b.store.historyView(), 0);
    expect(ha.hashRevision).toBe(hb.hashRevision);
    expect(ha.hash).not.toBe(hb.hash);
  });

  it("is the same whether compaction dropped its records yet or waits for a reader", async () => {
    const a = replica();
    const b = replica();
    writeHistory(a);
    writeHistory(b);
    // A snapshot being read on b holds its compaction back; a drops records at once.
    const reading = b.store.snapshot()[Symbol.asyncIterator]();
    await reading.next();
    const compactAt = a.store.revision - 10;
    a.run({ type: "compact", revision: compactAt });
    b.run({ type: "compact", revision: compactAt });
    const ha = await hashHistory(a.store.historyView(), 0);
    const hb = await hashHistory(b.store.historyView(), 0);
    await reading.return?.();
    expect(ha.compactRevision).toBe(compactAt);
    expect(hb).toEqual(ha);
  });

  it("refuses compacted and future revisions, and releases the view either way", async () => {
    const a = replica();
    writeHistory(a);
    a.run({ type: "compact", revision: 5 });
    await expect(hashHistory(a.store.historyView(), 4)).rejects.toBeInstanceOf(CompactedError);
    await expect(hashHistory(a.store.historyView(), 5)).rejects.toBeInstanceOf(CompactedError);
    await expect(hashHistory(a.store.historyView(), a.store.revision + 1)).rejects.toBeInstanceOf(
      FutureRevisionError,
    );
    // Had a refused view stayed open, this compaction would wait and keep old records.
    a.run({ type: "compact", revision: 20 });
    expect(a.store.range({ key: utf8("k/0"), revision: 21 }).kvs.length).toBe(1);
    const view = a.store.historyView();
    let records = 0;
    for (const [, history] of view.entries()) records += history.length;
    view.close();
    // 52 records written; compaction at 20 keeps the 33 after it and one per key (7) at it.
    expect(records).toBe(40);
  });
});
