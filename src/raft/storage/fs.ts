import type { DirLock } from "./dir-lock.js";

/**
 * The few file-system operations the durable storage uses. Everything goes
 * through this interface so tests can substitute a file system that models
 * what survives a crash (only fsynced bytes and fsynced directory entries)
 * and injects faults at every write and sync point.
 */
export interface StorageFs {
  /**
   * Takes the exclusive hold of a data directory for this process, or throws
   * DataDirLockedError; released by the DirLock (or the process's death).
   */
  lockDir(dir: string): Promise<DirLock>;
  /** Creates `dir` and its parents; succeeds when it exists. */
  mkdirp(dir: string): Promise<void>;
  /** Names (not paths) of the entries of `dir`. */
  readdir(dir: string): Promise<string[]>;
  readFile(path: string): Promise<Uint8Array>;
  /** For the rare synchronous read (a snapshot's bytes asked for through the core's interface). */
  readFileSync(path: string): Uint8Array;
  /**
   * Opens `path` for writing. "create" creates it empty (truncating an
   * existing file); "existing" opens a file that must exist, positioned at
   * its end.
   */
  openWritable(path: string, mode: "create" | "existing"): Promise<WritableFile>;
  openReadable(path: string): Promise<ReadableFile>;
  /** Atomically replaces `to` with `from` (POSIX rename). Durable only after syncDir. */
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync of a directory: makes creations, renames and removals in it durable. */
  syncDir(dir: string): Promise<void>;
}

export interface WritableFile {
  /** Current length of the file in bytes, including unsynced writes. */
  readonly sizeBytes: number;
  /** Writes all of `data` at the end of the file. */
  append(data: Uint8Array): Promise<void>;
  /** Writes all of `parts`, back to back, at the end of the file (one vectored write where it can). */
  appendParts(parts: readonly Uint8Array[]): Promise<void>;
  /** fdatasync: the file's data (and its length) are on stable storage when this resolves. */
  datasync(): Promise<void>;
  truncate(sizeBytes: number): Promise<void>;
  close(): Promise<void>;
}

export interface ReadableFile {
  readonly sizeBytes: number;
  /** Reads up to `into.length` bytes at `position`; returns how many were read (0 at the end). */
  read(into: Uint8Array, position: number): Promise<number>;
  close(): Promise<void>;
}

export function isNotFound(err: unknown): boolean {
  return (
    typeof err === "object" &&
    err !== null &&
    "code" in err &&
    (err as { code: unknown }).code === "ENOENT"
  );
}
