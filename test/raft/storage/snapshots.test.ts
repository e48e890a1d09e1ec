import { describe, expect, it } from "vitest";
import { SnapshotTemporarilyUnavailableError } from "../../../src/raft/core/errors.js";
import { StaleSnapshotError } from "../../../src/raft/storage/errors.js";
import { FileBackedSnapshot } from "../../../src/raft/storage/file-snapshot.js";
import { WalStorage } from "../../../src/raft/storage/wal-storage.js";
import { SimFs } from "./sim-fs.js";
import { CONF, DIR, entries, IDENTITY } from "./workload.js";

const text = new TextEncoder();

function open(
  fs: SimFs,
  extra: Partial<Parameters<typeof WalStorage.open>[1]> = {},
): Promise<WalStorage> {
  return WalStorage.open(DIR, { ...IDENTITY, fs, segmentMaxBytes: 1024, ...extra });
}

function names(fs: SimFs): string[] {
  return [...fs.files().keys()].map((p) => p.slice(DIR.length + 1)).sort();
}

async function* chunked(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(expected)).toBe(true);
}

function bigData(n: number): Uint8Array {
  const d = new Uint8Array(n);
  for (let i = 0; i < n; i++) d[i] = (i * 131) & 0xff;
  return d;
}

describe("WalStorage: snapshots", () => {
  it("a streamed snapshot is written whole and read back in chunks, checksum-checked", async () => {
    const fs = new SimFs();
    const s = await open(fs);
    await s.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 0, commit: 10 } });
    const data = bigData(300_000);
    const meta = await s.createSnapshot(8, CONF, chunked(data, 7_000));
    expect(meta).toEqual({ index: 8, term: 1, confState: CONF });
    const reader = await s.openSnapshot();
    expect(reader.metadata).toEqual(meta);
    expect(reader.dataBytes).toBe(data.length);
    const sizes: number[] = [];
    const parts: Uint8Array[] = [];
    for await (const chunk of reader.chunks(64 * 1024)) {
      sizes.push(chunk.length);
      parts.push(chunk);
    }
    await reader.close();
    expect(sizes.every((n) => n <= 64 * 1024)).toBe(true);
    expectSameBytes(Buffer.concat(parts), data);
    // The core's view: metadata at once, bytes read from the file when asked for.
    const snap = s.snapshot();
    expect(snap).toBeInstanceOf(FileBackedSnapshot);
    expect(snap.metadata).toEqual(meta);
    expectSameBytes(snap.data, data);
    await s.close();
  });

  it("older segments and snapshot files go only once a newer snapshot is durable", async () => {
    const fs = new SimFs();
    const s = await open(fs);
    for (let i = 1; i <= 30; i += 3) {
      await s.save({
        entries: entries(i, i + 2, 1, 100),
        hardState: { term: 1, vote: 0, commit: i + 2 },
      });
    }
    const segmentsBefore = names(fs).filter((n) => n.endsWith(".seg"));
    expect(segmentsBefore.length).toBeGreaterThan(2);
    await s.createSnapshot(20, CONF, text.encode("at 20"));
    expect(names(fs)).toEqual([
      "identity.json",
      "snap-0000000000000014-0000000000000001.snap",
      expect.any(String),
    ]);
    const [base] = names(fs).filter((n) => n.endsWith(".seg"));
    expect(segmentsBefore).not.toContain(base);
    expect(s.firstIndex()).toBe(21);
    await s.createSnapshot(25, CONF, text.encode("at 25"));
    expect(names(fs).filter((n) => n.endsWith(".snap"))).toEqual([
      "snap-0000000000000019-0000000000000001.snap",
    ]);
    await s.close();
    const reopened = await open(fs);
    expect(reopened.firstIndex()).toBe(26);
    expect(reopened.entries(26, 31, Number.MAX_SAFE_INTEGER)).toEqual(entries(26, 30, 1, 100));
    expect(reopened.snapshot().data).toEqual(text.encode("at 25"));
    await reopened.close();
  });

  it("catch-up entries stay before the snapshot until compacted away", async () => {
    const fs = new SimFs();
    const s = await open(fs, { snapshotCatchUpEntries: 4 });
    await s.save({ entries: entries(1, 12, 1), hardState: { term: 1, vote: 0, commit: 12 } });
    await s.createSnapshot(10, CONF, text.encode("at 10"));
    expect(s.firstIndex()).toBe(7);
    expect(s.snapshotMetadata().index).toBe(10);
    await s.close();
    const reopened = await open(fs, { snapshotCatchUpEntries: 4 });
    expect(reopened.firstIndex()).toBe(7);
    expect(reopened.term(6)).toBe(1);
    await reopened.compact(10);
    expect(reopened.firstIndex()).toBe(11);
    await reopened.compact(9); // already compacted: nothing to do
    expect(reopened.firstIndex()).toBe(11);
    expect(reopened.stats().entriesInMemory).toBe(2);
    await reopened.close();
    const again = await open(fs);
    expect(again.firstIndex()).toBe(11);
    await again.close();
  });

  it("catch-up entries are bounded in bytes too: big entries are not kept behind a snapshot", async () => {
    const fs = new SimFs();
    // entries() of size 100: 124 bytes each by the core's measure (payload + 24).
    const s = await open(fs, { snapshotCatchUpEntries: 100, snapshotCatchUpBytes: 3 * 124 });
    await s.save({ entries: entries(1, 20, 1, 100), hardState: { term: 1, vote: 0, commit: 20 } });
    await s.createSnapshot(15, CONF, text.encode("at 15"));
    // 100 entries were allowed, 3 entries' bytes were: 13, 14 and 15 stay.
    expect(s.firstIndex()).toBe(13);
    expect(s.stats().entriesInMemory).toBe(8);
    await s.close();
    const exact = await open(fs, {
      snapshotCatchUpEntries: 100,
      snapshotCatchUpBytes: 3 * 124 - 1,
    });
    await exact.createSnapshot(18, CONF, text.encode("at 18"));
    // One byte short of three: two stay.
    expect(exact.firstIndex()).toBe(17);
    await exact.close();
  });

  it("compaction while a newer snapshot is being made durable keeps that snapshot", async () => {
    const held: Array<() => void> = [];
    let gate = false;
    const fs = new SimFs({
      holdSync: (path) =>
        gate && path.endsWith(".seg.tmp") ? new Promise<void>((r) => held.push(r)) : undefined,
    });
    const s = await open(fs, { snapshotCatchUpEntries: 4 });
    await s.save({ entries: entries(1, 12, 1), hardState: { term: 1, vote: 0, commit: 12 } });
    await s.createSnapshot(6, CONF, text.encode("at 6"));
    gate = true;
    const creating = s.createSnapshot(10, CONF, text.encode("at 10"));
    while (held.length === 0) await new Promise<void>((r) => setImmediate(r));
    const compacting = s.compact(8);
    gate = false;
    for (const r of held.splice(0)) r();
    await Promise.all([creating, compacting]);
    expect(s.firstIndex()).toBe(9);
    await s.close();
    const reopened = await open(fs);
    expect(reopened.snapshotMetadata().index).toBe(10);
    expect(reopened.firstIndex()).toBe(9);
    expect(reopened.snapshot().data).toEqual(text.encode("at 10"));
    await reopened.close();
  });

  it("a received snapshot is staged, not installed, until a save carries it", async () => {
    const fs = new SimFs();
    const s = await open(fs);
    await s.save({ entries: entries(1, 5, 1), hardState: { term: 1, vote: 0, commit: 3 } });
    const data = bigData(50_000);
    const staged = await s.receiveSnapshot(
      { index: 40, term: 3, confState: CONF },
      chunked(data, 4096),
    );
    expect(staged.metadata.index).toBe(40);
    expectSameBytes(staged.data, data);
    // Not installed: the log and snapshot are unchanged, also after a restart.
    expect(s.lastIndex()).toBe(5);
    expect(s.snapshotMetadata().index).toBe(0);
    await s.save({
      snapshot: staged,
      entries: entries(41, 42, 3),
      hardState: { term: 3, vote: 0, commit: 41 },
    });
    expect(s.firstIndex()).toBe(41);
    expect(s.lastIndex()).toBe(42);
    expect(names(fs).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    const reader = await s.openSnapshot();
    expectSameBytes(await reader.readAll(), data);
    await reader.close();
    await s.close();
    const reopened = await open(fs);
    expect(reopened.snapshotMetadata()).toEqual({ index: 40, term: 3, confState: CONF });
    expect(reopened.hardState()).toEqual({ term: 3, vote: 0, commit: 41 });
    expectSameBytes(reopened.snapshot().data, data);
    await reopened.close();
  });

  it("a staged snapshot the core never accepts leaves nothing behind", async () => {
    const fs = new SimFs();
    const s = await open(fs);
    await s.receiveSnapshot({ index: 9, term: 2, confState: CONF }, text.encode("refused"));
    expect(names(fs).some((n) => n.endsWith(".tmp"))).toBe(true);
    await s.close();
    expect(names(fs).some((n) => n.endsWith(".tmp"))).toBe(false);
  });

  it("stale received snapshots are refused", async () => {
    const s = await open(new SimFs());
    await s.save({ entries: entries(1, 5, 1), hardState: { term: 1, vote: 0, commit: 5 } });
    await s.createSnapshot(5, CONF, text.encode("5"));
    await expect(
      s.receiveSnapshot({ index: 5, term: 1, confState: CONF }, text.encode("x")),
    ).rejects.toThrow(StaleSnapshotError);
    await s.close();
  });

  it("an open reader survives the snapshot being replaced; a stale lazy snapshot says retry", async () => {
    const fs = new SimFs();
    const s = await open(fs);
    await s.save({ entries: entries(1, 9, 1), hardState: { term: 1, vote: 0, commit: 9 } });
    await s.createSnapshot(4, CONF, text.encode("old state"));
    const oldSnapshot = s.snapshot();
    const reader = await s.openSnapshot();
    await s.createSnapshot(8, CONF, text.encode("new state"));
    expect(names(fs).filter((n) => n.endsWith(".snap"))).toEqual([
      "snap-0000000000000008-0000000000000001.snap",
    ]);
    expect(await reader.readAll()).toEqual(text.encode("old state"));
    await reader.close();
    expect(() => oldSnapshot.data).toThrow(SnapshotTemporarilyUnavailableError);
    expect(s.snapshot().data).toEqual(text.encode("new state"));
    await s.close();
  });

  it("a snapshot whose data stream fails leaves the storage as it was", async () => {
    const fs = new SimFs();
    const s = await open(fs);
    await s.save({ entries: entries(1, 5, 1), hardState: { term: 1, vote: 0, commit: 5 } });
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield text.encode("partial");
      throw new Error("source went away");
    }
    await expect(s.createSnapshot(4, CONF, failing())).rejects.toThrow("source went away");
    expect(s.snapshotMetadata().index).toBe(0);
    expect(names(fs).filter((n) => n.endsWith(".tmp") || n.endsWith(".snap"))).toEqual([]);
    const meta = await s.createSnapshot(4, CONF, text.encode("whole"));
    expect(meta.index).toBe(4);
    await s.close();
  });

  it("an empty storage streams an empty snapshot", async () => {
    const s = await open(new SimFs());
    const reader = await s.openSnapshot();
    expect(reader.metadata.index).toBe(0);
    expect(await reader.readAll()).toEqual(new Uint8Array(0));
    await reader.close();
    await s.close();
  });
});

describe("WalStorage: a snapshot written while the log moves on", () => {
  /** A stream that yields `data` only once `release` is called. */
  function heldStream(data: Uint8Array): {
    stream: AsyncGenerator<Uint8Array>;
    release: () => void;
  } {
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    async function* stream(): AsyncGenerator<Uint8Array> {
      await held;
      yield data;
    }
    return { stream: stream(), release };
  }

  it("saves and opening the current snapshot proceed while it is written; compaction follows", async () => {
    const fs = new SimFs();
    const s = await open(fs);
    await s.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 0, commit: 10 } });
    const { stream, release } = heldStream(text.encode("state at 8"));
    const creating = s.createSnapshot(8, CONF, stream);
    // The log moves on, durably, while the snapshot waits for its data.
    await s.save({ entries: entries(11, 20, 2), hardState: { term: 2, vote: 0, commit: 20 } });
    const current = await s.openSnapshot();
    expect(current.metadata.index).toBe(0);
    await current.close();
    expect(s.firstIndex()).toBe(1);

    release();
    expect((await creating).index).toBe(8);
    expect(s.firstIndex()).toBe(9);
    expect(s.lastIndex()).toBe(20);
    await s.close();
    const reopened = await open(fs);
    expect(reopened.snapshotMetadata().index).toBe(8);
    expect(reopened.lastIndex()).toBe(20);
    expect(reopened.term(20)).toBe(2);
    await reopened.close();
  });

  it("a leader's snapshot installed meanwhile wins: the local one is refused as stale", async () => {
    const fs = new SimFs();
    const s = await open(fs);
    await s.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 0, commit: 10 } });
    const { stream, release } = heldStream(text.encode("local at 8"));
    const creating = s.createSnapshot(8, CONF, stream);
    const leaderSnap = {
      metadata: { index: 30, term: 3, confState: CONF },
      data: text.encode("leader"),
    };
    await s.save({ snapshot: leaderSnap, hardState: { term: 3, vote: 0, commit: 30 } });
    release();
    await expect(creating).rejects.toBeInstanceOf(StaleSnapshotError);
    expect(s.snapshotMetadata().index).toBe(30);
    expect(s.firstIndex()).toBe(31);
    // No temporary file is left behind.
    expect(names(fs).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    await s.close();
  });
});
