import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Entry } from "../../../src/raft/core/types.js";
import { StaleSnapshotError } from "../../../src/raft/storage/errors.js";
import { MemoryStorage } from "../../../src/raft/storage/memory.js";
import { WalStorage } from "../../../src/raft/storage/wal-storage.js";
import { describeLogStorageConformance, type StorageHarness } from "./conformance.js";
import { SimFs } from "./sim-fs.js";
import { CONF, DIR, entries, IDENTITY } from "./workload.js";

describeLogStorageConformance("MemoryStorage", async (): Promise<StorageHarness> => {
  const m = new MemoryStorage();
  return {
    storage: () => m,
    append: async (es: Entry[]) => m.append(es),
    setHardState: async (hs) => m.setHardState(hs),
    createSnapshot: async (index, cs, data) => {
      await m.createSnapshot(index, cs, data);
    },
    applySnapshot: async (snap) => m.applySnapshot(snap),
    snapshotData: async () => m.snapshot().data,
    settle: async () => {},
    close: async () => {},
  };
});

/** A WalStorage harness; `reopen` restarts the storage before every check. */
function walHarness(
  open: () => Promise<WalStorage>,
  cleanup: () => Promise<void>,
  reopen: boolean,
) {
  return async (): Promise<StorageHarness> => {
    let s = await open();
    return {
      storage: () => s,
      append: (es) => s.save({ entries: es }),
      setHardState: (hs) => s.save({ hardState: hs }),
      createSnapshot: async (index, cs, data) => {
        await s.createSnapshot(index, cs, data);
      },
      applySnapshot: (snapshot) => s.save({ snapshot }),
      snapshotData: async () => {
        const lazy = s.snapshot().data;
        const reader = await s.openSnapshot();
        const streamed = await reader.readAll();
        await reader.close();
        if (Buffer.compare(lazy, streamed) !== 0)
          throw new Error("lazy and streamed snapshot data differ");
        return streamed;
      },
      settle: async () => {
        if (!reopen) return;
        await s.close();
        s = await open();
      },
      close: async () => {
        await s.close();
        await cleanup();
      },
    };
  };
}

describeLogStorageConformance("WalStorage", async () => {
  const fs = new SimFs();
  return walHarness(
    () => WalStorage.open(DIR, { ...IDENTITY, fs, segmentMaxBytes: 1024 }),
    async () => {},
    false,
  )();
});

describeLogStorageConformance("WalStorage, reopened before every check", async () => {
  const fs = new SimFs();
  return walHarness(
    () => WalStorage.open(DIR, { ...IDENTITY, fs, segmentMaxBytes: 1024 }),
    async () => {},
    true,
  )();
});

describeLogStorageConformance("WalStorage on the real file system, reopened", async () => {
  const dir = await mkdtemp(join(tmpdir(), "conclave-wal-"));
  return walHarness(
    () => WalStorage.open(dir, { ...IDENTITY }),
    () => rm(dir, { recursive: true, force: true }),
    true,
  )();
});

describe("MemoryStorage: a streamed snapshot is gathered while saves go on", () => {
  async function* later(text: string, gate: Promise<void>): AsyncGenerator<Uint8Array> {
    await gate;
    yield new TextEncoder().encode(text);
  }

  it("keeps the entries saved meanwhile and compacts only when it completes", async () => {
    const m = new MemoryStorage();
    await m.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 0, commit: 10 } });
    let release: () => void = () => {};
    const creating = m.createSnapshot(8, CONF, later("at 8", new Promise((r) => (release = r))));
    await m.save({ entries: entries(11, 12, 2), hardState: { term: 2, vote: 0, commit: 12 } });
    expect(m.firstIndex()).toBe(1);
    release();
    expect((await creating).metadata).toEqual({ index: 8, term: 1, confState: CONF });
    expect([m.firstIndex(), m.lastIndex(), m.term(12)]).toEqual([9, 12, 2]);
  });

  it("is refused as stale when a leader's snapshot was installed meanwhile", async () => {
    const m = new MemoryStorage();
    await m.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 0, commit: 10 } });
    let release: () => void = () => {};
    const creating = m.createSnapshot(8, CONF, later("at 8", new Promise((r) => (release = r))));
    const leader = { metadata: { index: 20, term: 3, confState: CONF }, data: new Uint8Array([1]) };
    await m.save({ snapshot: leader });
    release();
    await expect(creating).rejects.toBeInstanceOf(StaleSnapshotError);
    expect(m.snapshot()).toBe(leader);
  });
});
