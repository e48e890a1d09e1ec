import { describe, expect, it } from "vitest";
import {
  CompactedError,
  KvStore,
  utf8,
  type WatchResponse,
  watchStream,
} from "../../src/kv/index.js";
import { text } from "./ops.js";

const b = utf8;

function seeded(): KvStore {
  const store = new KvStore();
  let i = 0;
  store.apply(++i, { type: "put", key: b("a"), value: b("1") }); // rev 2
  store.apply(++i, { type: "put", key: b("a"), value: b("2") }); // rev 3
  store.apply(++i, { type: "deleteRange", key: b("a") }); // rev 4
  return store;
}

describe("watch", () => {
  it("replays history with prevKv, then delivers live events", () => {
    const store = seeded();
    const got: WatchResponse[] = [];
    store.watch({ key: b("a"), startRevision: 3, prevKv: true }, (r) => got.push(r));
    store.apply(10, { type: "put", key: b("a"), value: b("3") });
    store.apply(11, { type: "put", key: b("other"), value: b("x") });
    expect(got.map((r) => r.revision)).toEqual([3, 4, 5]);
    expect(got.map((r) => r.events.map((e) => e.type))).toEqual([["put"], ["delete"], ["put"]]);
    expect(text(got[1]!.events[0]!.prevKv!.value)).toBe("2");
    expect(got[1]!.events[0]!.kv).toMatchObject({ modRevision: 4, version: 0, createRevision: 0 });
    expect(got[2]!.events[0]!.prevKv).toBeUndefined();
  });

  it("filters puts or deletes, omits prevKv unless asked, and stops on cancel", () => {
    const store = seeded();
    const deletes: WatchResponse[] = [];
    const puts: WatchResponse[] = [];
    store.watch({ key: b("a"), startRevision: 2, noPut: true }, (r) => deletes.push(r));
    const w = store.watch({ key: b("a"), startRevision: 2, noDelete: true }, (r) => puts.push(r));
    expect(deletes.map((r) => r.revision)).toEqual([4]);
    expect(puts.map((r) => r.revision)).toEqual([2, 3]);
    expect(puts[1]!.events[0]!.prevKv).toBeUndefined();
    w.cancel();
    store.apply(5, { type: "put", key: b("a"), value: b("again") });
    expect(puts).toHaveLength(2);
    expect(store.watcherCount).toBe(1);
  });

  it("sends progress notifications with the current revision", () => {
    const store = seeded();
    const got: WatchResponse[] = [];
    store.watch({ key: b("zzz") }, (r) => got.push(r));
    store.notifyProgress();
    expect(got).toEqual([{ watchId: 1, revision: 4, events: [], progressNotify: true }]);
  });

  it("fails with CompactedError for compacted history", () => {
    const store = seeded();
    store.apply(5, { type: "compact", revision: 3 });
    expect(() => store.watch({ key: b("a"), startRevision: 2 }, () => {})).toThrow(CompactedError);
    // The compaction point itself is watchable, as in etcd.
    const atCompaction: WatchResponse[] = [];
    store.watch({ key: b("a"), startRevision: 3 }, (r) => atCompaction.push(r));
    expect(atCompaction.map((r) => r.revision)).toEqual([3, 4]);
    const got: WatchResponse[] = [];
    store.watch({ key: b("a"), startRevision: 4, prevKv: true }, (r) => got.push(r));
    expect(got.map((r) => r.revision)).toEqual([4]);
    expect(text(got[0]!.events[0]!.prevKv!.value)).toBe("2");
  });

  it("cancels a watcher whose callback throws, without disturbing apply", () => {
    const store = seeded();
    const errors: unknown[] = [];
    store.watch(
      { key: b("a") },
      () => {
        throw new Error("consumer broke");
      },
      (e) => errors.push(e),
    );
    const r = store.apply(5, { type: "put", key: b("a"), value: b("x") });
    expect(r.type).toBe("put");
    expect(errors).toHaveLength(1);
    expect(store.watcherCount).toBe(0);
  });

  it("catches up across a restore, or reports compaction", async () => {
    const source = seeded();
    source.apply(5, { type: "put", key: b("a"), value: b("after") }); // rev 5
    const chunks: Uint8Array[] = [];
    for await (const c of source.snapshot()) chunks.push(c);
    const stale = seeded();
    const got: WatchResponse[] = [];
    stale.watch({ key: b("a"), startRevision: 0 }, (r) => got.push(r));
    await stale.restore(
      (async function* () {
        yield* chunks;
      })(),
    );
    expect(got.map((r) => r.revision)).toEqual([5]);

    source.apply(6, { type: "compact", revision: 5 });
    const compacted: Uint8Array[] = [];
    for await (const c of source.snapshot()) compacted.push(c);
    const lagging = new KvStore();
    const errors: unknown[] = [];
    lagging.watch(
      { key: b("a") },
      () => {},
      (e) => errors.push(e),
    );
    await lagging.restore(
      (async function* () {
        yield* compacted;
      })(),
    );
    expect(errors[0]).toBeInstanceOf(CompactedError);
    expect(lagging.watcherCount).toBe(0);
  });

  it("works as an async iterator that ends on abort", async () => {
    const store = seeded();
    const abort = new AbortController();
    const stream = watchStream(store, { key: b("a"), startRevision: 2 }, abort.signal);
    store.apply(5, { type: "put", key: b("a"), value: b("live") });
    const seen: number[] = [];
    for await (const r of stream) {
      seen.push(r.revision);
      if (r.revision === 5) abort.abort();
    }
    expect(seen).toEqual([2, 3, 4, 5]);
    expect(store.watcherCount).toBe(0);
  });
});
