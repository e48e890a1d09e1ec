import { describe, expect, it } from "vitest";
import { WalStorage } from "../../../src/raft/storage/wal-storage.js";
import { SimFs } from "./sim-fs.js";
import { DIR, entries, entry, IDENTITY } from "./workload.js";

/** Lets every pending promise callback run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise<void>((r) => setImmediate(r));
}

/** A file system whose segment syncs wait until released. */
function gatedFs() {
  const held: Array<() => void> = [];
  let gating = false;
  const fs = new SimFs({
    holdSync: (path) => {
      if (!gating || !path.endsWith(".seg")) return undefined;
      return new Promise<void>((resolve) => held.push(resolve));
    },
  });
  return {
    fs,
    held,
    gate(on: boolean) {
      gating = on;
    },
    releaseAll() {
      for (const r of held.splice(0)) r();
    },
  };
}

describe("WalStorage: group commit", () => {
  it("writes a save that only moves the commit index without an fsync; the next synced save covers it", async () => {
    const fs = new SimFs();
    const s = await WalStorage.open(DIR, { ...IDENTITY, fs });
    await s.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 1, commit: 0 } });
    const synced = s.stats().recordSyncs;
    await s.save({ hardState: { term: 1, vote: 1, commit: 2 } });
    expect(s.stats().recordSyncs).toBe(synced);
    // A new vote must be durable before the node answers with it.
    await s.save({ hardState: { term: 2, vote: 2, commit: 2 } });
    expect(s.stats().recordSyncs).toBe(synced + 1);
    await s.close();
    const again = await WalStorage.open(DIR, { ...IDENTITY, fs });
    expect(again.initialState().hardState).toEqual({ term: 2, vote: 2, commit: 2 });
    await again.close();
  });

  it("saves issued together share one fsync", async () => {
    const fs = new SimFs();
    const s = await WalStorage.open(DIR, { ...IDENTITY, fs });
    const saves: Promise<void>[] = [];
    for (let i = 1; i <= 64; i++) saves.push(s.save({ entries: [entry(i, 1)] }));
    await Promise.all(saves);
    expect(s.stats().recordSyncs).toBe(1);
    expect(s.stats().recordAppends).toBe(64);
    await s.close();
  });

  it("nothing is acknowledged before its sync; saves arriving during a sync share the next one", async () => {
    const g = gatedFs();
    const s = await WalStorage.open(DIR, { ...IDENTITY, fs: g.fs });
    g.gate(true);
    const settled: number[] = [];
    const first = s.save({ entries: [entry(1, 1)] }).then(() => settled.push(1));
    await flush();
    expect(g.held.length).toBe(1); // the first sync is in progress
    const later: Promise<unknown>[] = [];
    for (let i = 2; i <= 11; i++)
      later.push(s.save({ entries: [entry(i, 1)] }).then(() => settled.push(i)));
    later.push(s.save({ hardState: { term: 1, vote: 0, commit: 5 } }).then(() => settled.push(99)));
    await flush();
    expect(settled).toEqual([]);
    // Reads see the entries at once (the core reads only after the save resolves anyway).
    expect(s.lastIndex()).toBe(11);
    g.releaseAll();
    await first;
    await flush();
    expect(settled).toEqual([1]);
    expect(g.held.length).toBe(1); // one sync for all eleven later saves
    g.releaseAll();
    await Promise.all(later);
    expect(settled).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99]);
    expect(s.stats().recordSyncs).toBe(2);
    g.gate(false);
    await s.close();
  });

  it("a save with nothing to persist waits for earlier saves to be durable", async () => {
    const g = gatedFs();
    const s = await WalStorage.open(DIR, { ...IDENTITY, fs: g.fs });
    g.gate(true);
    let entriesDurable = false;
    let emptyDone = false;
    const p1 = s.save({ entries: entries(1, 3, 1) }).then(() => {
      entriesDurable = true;
    });
    const p2 = s.save({}).then(() => {
      emptyDone = true;
      expect(entriesDurable).toBe(true);
    });
    await flush();
    expect(emptyDone).toBe(false);
    g.releaseAll();
    await Promise.all([p1, p2]);
    expect(s.stats().recordSyncs).toBe(1);
    g.gate(false);
    await s.close();
  });

  it("close waits for pending saves to be durable", async () => {
    const g = gatedFs();
    const s = await WalStorage.open(DIR, { ...IDENTITY, fs: g.fs });
    g.gate(true);
    const saved = s.save({ entries: entries(1, 2, 1) });
    let closed = false;
    const closing = s.close().then(() => {
      closed = true;
    });
    await flush();
    expect(closed).toBe(false);
    g.releaseAll();
    await Promise.all([saved, closing]);
    const reopened = await WalStorage.open(DIR, { ...IDENTITY, fs: g.fs });
    expect(reopened.lastIndex()).toBe(2);
    g.gate(false);
    await reopened.close();
  });
});
