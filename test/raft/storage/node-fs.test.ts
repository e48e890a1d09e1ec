import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { REF_MIN_BYTES } from "../../../src/raft/storage/codec.js";
import { StorageCorruptionError } from "../../../src/raft/storage/errors.js";
import {
  MAX_INLINE_BYTES,
  MAX_INLINE_SYNC_BYTES,
  NodeStorageFs,
  POOL_SYNCS_AFTER_SLOW_MS,
  SLOW_SYNC_MS,
  SyncPlacement,
} from "../../../src/raft/storage/node-fs.js";
import { WalStorage } from "../../../src/raft/storage/wal-storage.js";
import { CONF, entries, entry, IDENTITY } from "./workload.js";

describe("WalStorage on the real file system", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "conclave-wal-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("truncates and reports a torn tail, and refuses damage before it", async () => {
    const s = await WalStorage.open(dir, { ...IDENTITY, segmentMaxBytes: 4096 });
    for (let i = 1; i <= 40; i += 4) await s.save({ entries: entries(i, i + 3, 1, 50) });
    await s.save({ hardState: { term: 1, vote: 0, commit: 30 } });
    await s.createSnapshot(20, CONF, new TextEncoder().encode("state at 20"));
    await s.save({ entries: entries(41, 44, 1, 50) });
    await s.close();
    const segments = (await readdir(dir)).filter((n) => n.endsWith(".seg")).sort();
    const last = join(dir, segments[segments.length - 1]!);
    const size = (await stat(last)).size;
    // A write cut short: half a record header.
    await appendFile(last, new Uint8Array([40, 0, 0, 0, 9]));
    const recovered = await WalStorage.open(dir, { ...IDENTITY, segmentMaxBytes: 4096 });
    expect(recovered.recovery.tornTail).toMatchObject({
      file: segments[segments.length - 1],
      offset: size,
      droppedBytes: 5,
    });
    expect(recovered.lastIndex()).toBe(44);
    expect(recovered.firstIndex()).toBe(21);
    await recovered.close();
    expect((await stat(last)).size).toBe(size);

    // Damage in the middle of the newest segment: open refuses, naming file and offset.
    const bytes = new Uint8Array(await readFile(last));
    bytes[40]! ^= 0x01;
    await writeFile(last, bytes);
    const err = await WalStorage.open(dir, { ...IDENTITY }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageCorruptionError);
    expect((err as StorageCorruptionError).file).toBe(last);
    expect((err as StorageCorruptionError).offset).toBe(32);
  });

  it("syncs after one small append on the calling thread, and after more or for a while after a slow sync there on the pool", () => {
    let now = 0;
    const syncs = new SyncPlacement(() => now);
    expect(syncs.inline(0)).toBe(true);
    expect(syncs.inline(MAX_INLINE_SYNC_BYTES)).toBe(true);
    expect(syncs.inline(MAX_INLINE_SYNC_BYTES + 1)).toBe(false);
    syncs.took(SLOW_SYNC_MS); // not slower than the bound
    expect(syncs.inline(100)).toBe(true);
    now = 50;
    syncs.took(SLOW_SYNC_MS + 0.5);
    expect(syncs.inline(100)).toBe(false);
    now = 50 + POOL_SYNCS_AFTER_SLOW_MS - 1;
    expect(syncs.inline(100)).toBe(false);
    now = 50 + POOL_SYNCS_AFTER_SLOW_MS;
    expect(syncs.inline(100)).toBe(true);
  });

  it("times only the syncs it makes on the calling thread: a slow answer from the pool keeps the next small sync inline", async () => {
    let now = 0;
    const syncs = new SyncPlacement(() => now);
    const ran: string[] = [];
    const onThread = (ms: number) => () => {
      ran.push("thread");
      now += ms;
    };
    const onPool = (ms: number) => async () => {
      ran.push("pool");
      now += ms;
    };
    // Waiting for the pool and the loop is not the disk's time.
    await syncs.sync(MAX_INLINE_SYNC_BYTES + 1, onThread(0), onPool(SLOW_SYNC_MS * 10));
    await syncs.sync(100, onThread(SLOW_SYNC_MS), onPool(0));
    expect(ran).toEqual(["pool", "thread"]);
    // A slow sync on the thread sends the next small ones to the pool for a while.
    await syncs.sync(100, onThread(SLOW_SYNC_MS + 1), onPool(0));
    await syncs.sync(100, onThread(0), onPool(0));
    now += POOL_SYNCS_AFTER_SLOW_MS;
    await syncs.sync(100, onThread(0), onPool(0));
    expect(ran).toEqual(["pool", "thread", "thread", "pool", "thread"]);
  });

  it("keeps small syncs on the pool for a while after a big append's, however quick: the disk is busy with big writes", async () => {
    let now = 0;
    const syncs = new SyncPlacement(() => now);
    const ran: string[] = [];
    const onThread = () => ran.push("thread");
    const onPool = (ms: number) => async () => {
      ran.push("pool");
      now += ms;
    };
    await syncs.sync(MAX_INLINE_BYTES, onThread, onPool(0)); // not big: no pause after it
    await syncs.sync(100, onThread, onPool(0));
    await syncs.sync(MAX_INLINE_BYTES + 1, onThread, onPool(5_000)); // big, and slower than the pause
    await syncs.sync(100, onThread, onPool(0));
    now += POOL_SYNCS_AFTER_SLOW_MS - 1;
    await syncs.sync(100, onThread, onPool(0));
    now += 1;
    await syncs.sync(100, onThread, onPool(0));
    expect(ran).toEqual(["pool", "thread", "pool", "pool", "pool", "thread"]);
  });

  it("makes data durable inline or on the pool alike, and a failed sync rejects on either", async () => {
    const syncs = new SyncPlacement(() => 0);
    const fs = new NodeStorageFs(syncs);
    const path = join(dir, "synced");
    const file = await fs.openWritable(path, "create");
    await file.append(new Uint8Array(10).fill(1));
    await file.datasync(); // inline
    await file.append(new Uint8Array(MAX_INLINE_SYNC_BYTES + 1).fill(2));
    await file.datasync(); // on the pool
    expect((await readFile(path)).length).toBe(10 + MAX_INLINE_SYNC_BYTES + 1);
    await file.close();
    // Closed: the inline path's error comes back as a rejection, as the pool's does.
    await expect(file.datasync()).rejects.toThrow();
    syncs.took(SLOW_SYNC_MS + 1);
    await expect(file.datasync()).rejects.toThrow();
  });

  it("writes parts back to back, on the event loop and on the thread pool, past IOV_MAX", async () => {
    const fs = new NodeStorageFs();
    const file = await fs.openWritable(join(dir, "parts"), "create");
    const small = Array.from({ length: 1_500 }, (_, i) => new Uint8Array(i % 3).fill(i & 0xff));
    const big = Array.from({ length: 700 }, (_, i) => new Uint8Array(200 + (i % 5)).fill(i & 0xff));
    await file.append(new Uint8Array([1, 2, 3]));
    await file.appendParts(small); // 1,500 bytes: written inline
    await file.appendParts(big); // 141 kB: through the thread pool
    await file.appendParts([new Uint8Array(0)]);
    await file.close();
    const expected = Buffer.concat([new Uint8Array([1, 2, 3]), ...small, ...big]);
    expect(file.sizeBytes).toBe(expected.length);
    expect((await readFile(join(dir, "parts"))).equals(expected)).toBe(true);
  });

  it("keeps big entries, written from where they lie, through group commit, a snapshot and a restart", async () => {
    const options = { segmentMaxBytes: 64 * 1024, snapshotCatchUpEntries: 6 };
    const s = await WalStorage.open(dir, { ...IDENTITY, ...options });
    const bigAt = new Set([3, 4, 9, 12]);
    const made = (i: number) => entry(i, 1, bigAt.has(i) ? REF_MIN_BYTES + 100 * i : 40);
    await s.save({ entries: [made(1), made(2)] });
    // Concurrent saves share one vectored write.
    await Promise.all([
      s.save({ entries: [made(3), made(4), made(5)] }),
      s.save({ entries: [made(6)] }),
      s.save({ entries: [made(7), made(8), made(9)] }),
    ]);
    await s.save({ entries: [made(10), made(11), made(12)] });
    await s.save({ hardState: { term: 1, vote: 0, commit: 12 } });
    await s.close();
    const expected = Array.from({ length: 12 }, (_, k) => made(k + 1));
    const reopen = async () => {
      const r = await WalStorage.open(dir, { ...IDENTITY, ...options });
      expect(r.recovery.tornTail).toBeUndefined();
      expect(r.firstIndex()).toBeLessThanOrEqual(7);
      const first = r.firstIndex();
      expect(r.entries(first, 13, Number.MAX_SAFE_INTEGER)).toEqual(expected.slice(first - 1));
      return r;
    };
    // Read back from the appended segments...
    const appended = await reopen();
    // ...and from a base segment, which keeps the entries after 6: among them big ones.
    await appended.createSnapshot(6, CONF, new TextEncoder().encode("state at 6"));
    await appended.close();
    await (await reopen()).close();
  });
});
