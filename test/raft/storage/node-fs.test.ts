import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StorageCorruptionError } from "../../../src/raft/storage/errors.js";
import { WalStorage } from "../../../src/raft/storage/wal-storage.js";
import { CONF, entries, IDENTITY } from "./workload.js";

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
});
