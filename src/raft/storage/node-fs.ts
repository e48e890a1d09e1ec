import { fdatasyncSync, readFileSync, writevSync } from "node:fs";
import { type FileHandle, mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { partsByteLength } from "../../byte-parts.js";
import { type DirLock, lockDataDir } from "./dir-lock.js";
import type { ReadableFile, StorageFs, WritableFile } from "./fs.js";

/** Appends up to this size are written on the calling thread (NodeWritableFile.appendParts). */
export const MAX_INLINE_BYTES = 64 * 1024;
/**
 * An fdatasync after at most this many appended bytes may be made on the
 * calling thread (SyncPlacement): a write of one small request, what a
 * member appends when requests come one at a time.
 */
export const MAX_INLINE_SYNC_BYTES = 1024;
/** Buffers per writev call, under every platform's IOV_MAX (1024 on Linux). */
const MAX_WRITEV_PARTS = 512;
/**
 * An fdatasync on the calling thread slower than this, or one after more
 * than MAX_INLINE_BYTES of appends (big writes in flight), sends the next
 * ones to the thread pool...
 */
export const SLOW_SYNC_MS = 2;
/** ...for this long after it finished; then a small one is made on the calling thread again. */
export const POOL_SYNCS_AFTER_SLOW_MS = 1_000;

/**
 * Where an fdatasync runs. One that follows a single small append (a
 * member writing one request at a time) is made on the calling thread while
 * the disk answers syncs quickly: on a disk that flushes in a fraction of a
 * millisecond that costs less than handing the call to the thread pool and
 * back (two thread wake-ups, on every member, for every write that must be
 * durable), and the caller has nothing else to do before it is done. One
 * that follows more goes to the pool: with many writes in flight the loop
 * has their work to do while the disk syncs. So does every sync for a while
 * after one on the calling thread was slow (a disk busy with other
 * writers, a throttled volume) or after a big append (the disk busy with
 * big writes): a slow disk stalls a pool thread, not the event loop. Only
 * syncs on the calling thread are timed: a pool sync's time from the call
 * until its continuation runs includes waiting for the loop, and under load
 * would read slow on any disk. One per process: its files share the disks.
 */
export class SyncPlacement {
  private poolUntilMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly nowMs: () => number = () => performance.now()) {}

  /** Whether a sync covering `unsyncedBytes` appended bytes runs on the calling thread. */
  inline(unsyncedBytes: number): boolean {
    return unsyncedBytes <= MAX_INLINE_SYNC_BYTES && this.nowMs() >= this.poolUntilMs;
  }

  /** A sync on the calling thread took `ms`. */
  took(ms: number): void {
    if (ms > SLOW_SYNC_MS) this.poolFor();
  }

  /** Sends syncs to the pool until POOL_SYNCS_AFTER_SLOW_MS from now. */
  private poolFor(): void {
    this.poolUntilMs = Math.max(this.poolUntilMs, this.nowMs() + POOL_SYNCS_AFTER_SLOW_MS);
  }

  /**
   * Runs a sync covering `unsyncedBytes`: `onThread` on the calling thread
   * (timed) or `onPool`, as placed. An error comes back as a rejection on
   * either path.
   */
  sync(unsyncedBytes: number, onThread: () => void, onPool: () => Promise<void>): Promise<void> {
    if (unsyncedBytes > MAX_INLINE_BYTES) {
      this.poolFor();
      return onPool().finally(() => this.poolFor());
    }
    if (!this.inline(unsyncedBytes)) return onPool();
    const started = this.nowMs();
    try {
      onThread();
    } catch (err) {
      return Promise.reject(err);
    } finally {
      this.took(this.nowMs() - started);
    }
    return Promise.resolve();
  }
}

/** What is left of `parts` (none empty) once a write has taken their first `written` bytes. */
export function unwritten(parts: readonly Uint8Array[], written: number): Uint8Array[] {
  let n = written;
  let taken = 0;
  while (taken < parts.length && n >= parts[taken]!.length) n -= parts[taken++]!.length;
  const left = parts.slice(taken);
  if (n > 0) left[0] = left[0]!.subarray(n);
  return left;
}

class NodeWritableFile implements WritableFile {
  /** Bytes appended since the last datasync call. */
  private unsyncedBytes = 0;

  constructor(
    private readonly handle: FileHandle,
    public sizeBytes: number,
    private readonly syncs: SyncPlacement,
  ) {}

  append(data: Uint8Array): Promise<void> {
    return this.appendParts([data]);
  }

  /**
   * The parts in vectored writes (writev). A small append is written on the
   * calling thread: a write of a few pages into the page cache takes
   * microseconds, less than handing it to the thread pool and back (two
   * thread wake-ups, on every member, on every write path). A big one goes to
   * the thread pool, where a kernel that throttles a writer of much unsynced
   * data stalls a pool thread, not the event loop. Where the fdatasync that
   * makes either durable runs is SyncPlacement's choice. A short write is
   * continued from the first byte it did not take.
   */
  async appendParts(parts: readonly Uint8Array[]): Promise<void> {
    const total = partsByteLength(parts);
    const inline = total <= MAX_INLINE_BYTES;
    let left = parts.filter((part) => part.length > 0);
    let done = 0;
    while (left.length > 0) {
      const batch = left.length > MAX_WRITEV_PARTS ? left.slice(0, MAX_WRITEV_PARTS) : left;
      const at = this.sizeBytes + done;
      const n = inline
        ? writevSync(this.handle.fd, batch, at)
        : (await this.handle.writev(batch, at)).bytesWritten;
      done += n;
      left = unwritten(left, n);
    }
    this.sizeBytes += total;
    this.unsyncedBytes += total;
  }

  datasync(): Promise<void> {
    const covered = this.unsyncedBytes;
    this.unsyncedBytes = 0;
    return this.syncs.sync(
      covered,
      () => fdatasyncSync(this.handle.fd),
      () => this.handle.datasync(),
    );
  }

  async truncate(sizeBytes: number): Promise<void> {
    await this.handle.truncate(sizeBytes);
    this.sizeBytes = sizeBytes;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

class NodeReadableFile implements ReadableFile {
  constructor(
    private readonly handle: FileHandle,
    readonly sizeBytes: number,
  ) {}

  async read(into: Uint8Array, position: number): Promise<number> {
    const { bytesRead } = await this.handle.read(into, 0, into.length, position);
    return bytesRead;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** The process's files share its disks, and so the placement of their syncs. */
const PROCESS_SYNCS = new SyncPlacement();

/** The real file system (node:fs). */
export class NodeStorageFs implements StorageFs {
  constructor(private readonly syncs: SyncPlacement = PROCESS_SYNCS) {}

  lockDir(dir: string): Promise<DirLock> {
    return lockDataDir(dir);
  }

  async mkdirp(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
  }

  readdir(dir: string): Promise<string[]> {
    return readdir(dir);
  }

  async readFile(path: string): Promise<Uint8Array> {
    return new Uint8Array(await readFile(path));
  }

  readFileSync(path: string): Uint8Array {
    return new Uint8Array(readFileSync(path));
  }

  async openWritable(path: string, mode: "create" | "existing"): Promise<WritableFile> {
    const handle = await open(path, mode === "create" ? "w" : "r+");
    try {
      const { size } = await handle.stat();
      return new NodeWritableFile(handle, size, this.syncs);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async openReadable(path: string): Promise<ReadableFile> {
    const handle = await open(path, "r");
    try {
      const { size } = await handle.stat();
      return new NodeReadableFile(handle, size);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  rename(from: string, to: string): Promise<void> {
    return rename(from, to);
  }

  unlink(path: string): Promise<void> {
    return unlink(path);
  }

  async syncDir(dir: string): Promise<void> {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } catch (err) {
      // Some platforms cannot fsync a directory; there rename durability is the file system's.
      const code = (err as { code?: unknown }).code;
      if (code !== "EISDIR" && code !== "EINVAL" && code !== "EPERM") throw err;
    } finally {
      await handle.close();
    }
  }
}
