import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DataDirLockedError,
  DataDirNotEmptyError,
  dataDirHolder,
  lockDataDir,
} from "../../../src/raft/storage/dir-lock.js";
import { WalStorage } from "../../../src/raft/storage/wal-storage.js";
import { holdDataDirInChild } from "./fixtures/hold-data-dir-process.js";
import { entries, IDENTITY } from "./workload.js";

describe("a data directory's lock", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "conclave-lock-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a second open while the first holds it, before removing any leftover", async () => {
    const first = await WalStorage.open(dir, IDENTITY);
    await first.save({ entries: entries(1, 3, 1, 10) });
    const leftover = join(dir, "wal-0000000000000009.tmp");
    await writeFile(leftover, "partial");
    const refused = await WalStorage.open(dir, IDENTITY).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(DataDirLockedError);
    expect((refused as DataDirLockedError).code).toBe("DATA_DIR_LOCKED");
    expect((refused as DataDirLockedError).holderPid).toBe(process.pid);
    expect(await readFile(leftover, "utf8")).toBe("partial");

    await first.close();
    const second = await WalStorage.open(dir, IDENTITY);
    expect(second.lastIndex()).toBe(3);
    expect(await readdir(dir)).not.toContain("wal-0000000000000009.tmp");
    await second.close();
  });

  it("names another process that holds it, and is free the moment that process is killed", async () => {
    const holder = await holdDataDirInChild(dir);
    try {
      expect(await dataDirHolder(dir)).toEqual({ held: true, pid: holder.pid });
      const refused = await WalStorage.open(dir, IDENTITY).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(DataDirLockedError);
      expect((refused as Error).message).toBe(
        `data directory ${dir} is in use by another process (PID ${holder.pid})`,
      );
      // Refused before anything was created: the holder's LOCK file is all there is.
      expect(await readdir(dir)).toEqual(["LOCK"]);
    } finally {
      await holder.kill();
    }
    // kill -9 leaves the LOCK file; the kernel has dropped the lock with the process.
    expect(await dataDirHolder(dir)).toEqual({ held: false });
    const reopened = await WalStorage.open(dir, IDENTITY);
    await reopened.close();
  });

  it("builds a new directory only where there is nothing yet", async () => {
    const fresh = await WalStorage.open(join(dir, "new"), { ...IDENTITY, mustBeNew: true });
    await fresh.close();
    await expect(
      WalStorage.open(join(dir, "new"), { ...IDENTITY, mustBeNew: true }),
    ).rejects.toBeInstanceOf(DataDirNotEmptyError);
  });

  it("releases once however often release is called, and can be taken again", async () => {
    const lock = await lockDataDir(dir);
    await expect(lockDataDir(dir)).rejects.toBeInstanceOf(DataDirLockedError);
    await Promise.all([lock.release(), lock.release()]);
    const again = await lockDataDir(dir);
    await again.release();
  });
});
