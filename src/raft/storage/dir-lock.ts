import { type FileHandle, open } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { ConclaveError } from "../../errors.js";

/** The file in a data directory whose lock says a process holds the directory. */
export const LOCK_FILE = "LOCK";

/**
 * A data directory is held by one process at a time: two processes writing
 * one WAL both acknowledge writes, then corrupt it.
 */
export class DataDirLockedError extends ConclaveError {
  readonly dir: string;
  /** The holder's PID as it wrote it into the lock file, when readable. */
  readonly holderPid: number | undefined;

  constructor(dir: string, holderPid: number | undefined) {
    super(
      "DATA_DIR_LOCKED",
      holderPid === undefined
        ? `data directory ${dir} is in use by another process`
        : `data directory ${dir} is in use by another process (PID ${holderPid})`,
    );
    this.dir = dir;
    this.holderPid = holderPid;
  }
}

/** A directory meant to become a new member's already holds files. */
export class DataDirNotEmptyError extends ConclaveError {
  constructor(dir: string) {
    super("DATA_DIR_NOT_EMPTY", `data directory ${dir} is not empty`);
  }
}

/** Held until release(); the kernel releases it too when the process dies. */
export interface DirLock {
  release(): Promise<void>;
}

interface NativeLocks {
  tryLock(fd: number, offset?: number, length?: number, opts?: { shared?: boolean }): boolean;
}

/*
 * Node has no flock. fs-native-extensions takes an open file description
 * lock (Linux F_OFD_SETLK, flock elsewhere) from a prebuilt binding: the
 * kernel drops it with the last descriptor, so a member killed with -9
 * restarts without anyone removing a stale file, and the lock works across
 * containers and network namespaces that share the directory (a socket or
 * PID-file scheme would not).
 */
const native = createRequire(import.meta.url)("fs-native-extensions") as NativeLocks;

/**
 * Takes the exclusive lock on `dir`'s LOCK file, or throws
 * DataDirLockedError naming the holder. Touches nothing else in `dir`, so
 * a refused process has read, written and removed nothing.
 */
export async function lockDataDir(dir: string): Promise<DirLock> {
  const path = join(dir, LOCK_FILE);
  const handle = await open(path, "a+", 0o600);
  try {
    if (!native.tryLock(handle.fd)) {
      throw new DataDirLockedError(dir, parsePid(await handle.readFile("utf8")));
    }
    // Informational only (the lock is the kernel's): who to look for when refused.
    await handle.truncate(0);
    await handle.write(`${process.pid}\n`, 0);
  } catch (err) {
    await handle.close();
    throw err;
  }
  let released: Promise<void> | undefined;
  return {
    release: () => {
      released ??= handle.close();
      return released;
    },
  };
}

/**
 * Whether a process holds `dir`, and its PID when it wrote one. Creates and
 * changes nothing: for a tool that must say who holds a directory before
 * deciding to use it.
 */
export async function dataDirHolder(dir: string): Promise<{ held: boolean; pid?: number }> {
  let handle: FileHandle;
  try {
    // r+: a write lock needs a descriptor open for writing; no O_CREAT, no truncation.
    handle = await open(join(dir, LOCK_FILE), "r+");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { held: false };
    throw err;
  }
  try {
    if (native.tryLock(handle.fd)) return { held: false };
    const pid = parsePid(await handle.readFile("utf8"));
    return pid === undefined ? { held: true } : { held: true, pid };
  } finally {
    await handle.close();
  }
}

function parsePid(text: string): number | undefined {
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}
