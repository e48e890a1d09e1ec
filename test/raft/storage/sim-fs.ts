import { dirname } from "node:path";
import { concatParts } from "../../../src/byte-parts.js";
import type { Random } from "../../../src/raft/core/prng.js";
import { DataDirLockedError, type DirLock } from "../../../src/raft/storage/dir-lock.js";
import type { ReadableFile, StorageFs, WritableFile } from "../../../src/raft/storage/fs.js";

/** Thrown by every operation from the crash point on: the process "died" there. */
export class SimulatedCrash extends Error {
  constructor(op: number) {
    super(`simulated crash at file-system operation ${op}`);
  }
}

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/** A file's bytes: what the process sees, and what an fsync last made durable. */
class Inode {
  content = new Uint8Array(0);
  length = 0;
  durable = new Uint8Array(0);

  bytes(): Uint8Array {
    return this.content.subarray(0, this.length);
  }

  write(at: number, data: Uint8Array): void {
    const end = at + data.length;
    if (end > this.content.length) {
      const next = new Uint8Array(Math.max(end, this.content.length * 2, 64));
      next.set(this.bytes());
      this.content = next;
    }
    if (at > this.length) this.content.fill(0, this.length, at);
    this.content.set(data, at);
    this.length = Math.max(this.length, end);
  }

  truncate(size: number): void {
    if (size > this.length) this.write(this.length, new Uint8Array(size - this.length));
    this.length = size;
  }
}

type NameOp =
  | { kind: "link"; path: string; inode: Inode }
  | { kind: "unlink"; path: string }
  | { kind: "rename"; from: string; to: string };

/** What an injected fault looks at to decide. */
export interface OpInfo {
  readonly index: number;
  readonly kind: "open" | "append" | "datasync" | "truncate" | "rename" | "unlink" | "syncDir";
  readonly path: string;
}

export interface SimFsOptions {
  /** Operation number (0-based, counting every mutating call) at which the process crashes. */
  readonly crashAtOp?: number;
  /** Returns an error to fail that operation with (the process goes on). */
  readonly fault?: (op: OpInfo) => Error | undefined;
  /** Decides how much of a write cut by the crash reaches the file. */
  readonly random?: Random;
  /** Holds a datasync until the returned promise settles (to observe what waits for it). */
  readonly holdSync?: (path: string) => Promise<void> | undefined;
}

/**
 * An in-memory file system that models what survives a crash: file data
 * only up to the last fdatasync of that file, directory entries (creations,
 * renames, removals) only up to the last fsync of the directory. Crash
 * images add what an unsynced write might leave behind: a random prefix of
 * the unsynced bytes, sometimes followed by zeros (the length reached the
 * disk, the data did not), and a random prefix of the unsynced directory
 * operations, in order.
 */
export class SimFs implements StorageFs {
  private live = new Map<string, Inode>();
  private durableNames = new Map<string, Inode>();
  private pendingNames: NameOp[] = [];
  private dirs = new Set<string>();
  private ops = 0;
  private crashedAt: number | undefined;
  private readonly options: SimFsOptions;
  /** Directories held by an open storage; a crash ends the process and so its holds. */
  private readonly held = new Set<string>();

  constructor(options: SimFsOptions = {}) {
    this.options = options;
  }

  /** Mutating operations performed so far. */
  get opCount(): number {
    return this.ops;
  }

  get crashed(): boolean {
    return this.crashedAt !== undefined;
  }

  private checkAlive(): void {
    if (this.crashedAt !== undefined) throw new SimulatedCrash(this.crashedAt);
  }

  /** Counts a mutating operation; throws at the crash point or for an injected fault. */
  private step(kind: OpInfo["kind"], path: string, partial?: () => void): void {
    this.checkAlive();
    const index = this.ops++;
    if (index === this.options.crashAtOp) {
      partial?.();
      this.crashedAt = index;
      throw new SimulatedCrash(index);
    }
    const err = this.options.fault?.({ index, kind, path });
    if (err) throw err;
  }

  private ensureDir(path: string): void {
    if (!this.dirs.has(dirname(path))) throw fsError("ENOENT", `no directory for ${path}`);
  }

  async lockDir(dir: string): Promise<DirLock> {
    this.checkAlive();
    if (this.held.has(dir)) throw new DataDirLockedError(dir, undefined);
    this.held.add(dir);
    let released = false;
    return {
      release: async () => {
        if (!released && !this.crashed) this.held.delete(dir);
        released = true;
      },
    };
  }

  async mkdirp(dir: string): Promise<void> {
    this.checkAlive();
    let d = dir;
    while (!this.dirs.has(d)) {
      this.dirs.add(d);
      const parent = dirname(d);
      if (parent === d) break;
      d = parent;
    }
  }

  async readdir(dir: string): Promise<string[]> {
    this.checkAlive();
    if (!this.dirs.has(dir)) throw fsError("ENOENT", dir);
    const prefix = dir.endsWith("/") ? dir : `${dir}/`;
    return [...this.live.keys()]
      .filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes("/"))
      .map((p) => p.slice(prefix.length))
      .sort();
  }

  private inode(path: string): Inode {
    const inode = this.live.get(path);
    if (inode === undefined) throw fsError("ENOENT", path);
    return inode;
  }

  async readFile(path: string): Promise<Uint8Array> {
    return this.readFileSync(path);
  }

  readFileSync(path: string): Uint8Array {
    this.checkAlive();
    return this.inode(path).bytes().slice();
  }

  async openWritable(path: string, mode: "create" | "existing"): Promise<WritableFile> {
    this.step("open", path);
    let inode: Inode;
    if (mode === "create") {
      this.ensureDir(path);
      inode = new Inode();
      this.live.set(path, inode);
      this.pendingNames.push({ kind: "link", path, inode });
    } else {
      inode = this.inode(path);
    }
    return new SimWritable(this, inode, path);
  }

  async openReadable(path: string): Promise<ReadableFile> {
    this.checkAlive();
    const inode = this.inode(path);
    const fs = this;
    return {
      sizeBytes: inode.length,
      async read(into: Uint8Array, position: number): Promise<number> {
        fs.checkAlive();
        const bytes = inode.bytes();
        const n = Math.max(0, Math.min(into.length, bytes.length - position));
        into.set(bytes.subarray(position, position + n));
        return n;
      },
      async close(): Promise<void> {},
    };
  }

  async rename(from: string, to: string): Promise<void> {
    this.step("rename", from);
    const inode = this.inode(from);
    this.ensureDir(to);
    this.live.delete(from);
    this.live.set(to, inode);
    this.pendingNames.push({ kind: "rename", from, to });
  }

  async unlink(path: string): Promise<void> {
    this.step("unlink", path);
    this.inode(path);
    this.live.delete(path);
    this.pendingNames.push({ kind: "unlink", path });
  }

  async syncDir(dir: string): Promise<void> {
    this.step("syncDir", dir);
    // Everything recorded for this directory so far reaches the disk.
    const keep: NameOp[] = [];
    for (const op of this.pendingNames) {
      const paths = op.kind === "rename" ? [op.from, op.to] : [op.path];
      if (paths.some((p) => dirname(p) === dir)) applyNameOp(this.durableNames, op);
      else keep.push(op);
    }
    this.pendingNames = keep;
  }

  /** @internal used by SimWritable */
  holdSync(path: string): Promise<void> | undefined {
    return this.options.holdSync?.(path);
  }

  /** @internal used by SimWritable */
  stepFor(kind: OpInfo["kind"], path: string, partial?: () => void): void {
    this.step(kind, path, partial);
  }

  /**
   * The disk as a restarted process finds it after a crash now: durable
   * state plus, chosen by `random`, torn remains of what was not synced.
   */
  crashImage(random: Random): SimFs {
    const names = new Map(this.durableNames);
    const keepOps = random.int(this.pendingNames.length + 1);
    for (const op of this.pendingNames.slice(0, keepOps)) applyNameOp(names, op);
    const image = new SimFs();
    for (const d of this.dirs) image.dirs.add(d);
    const copies = new Map<Inode, Inode>();
    for (const [path, inode] of names) {
      let copy = copies.get(inode);
      if (copy === undefined) {
        copy = new Inode();
        copy.write(0, tornContent(inode, random));
        copy.durable = copy.bytes().slice();
        copies.set(inode, copy);
      }
      image.live.set(path, copy);
      image.durableNames.set(path, copy);
    }
    return image;
  }

  /** Every file and its bytes (a clean copy of the current state, as after a full sync). */
  files(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (const [path, inode] of this.live) out.set(path, inode.bytes().slice());
    return out;
  }

  /** A fresh file system holding exactly `files` (all durable). */
  static fromFiles(files: Map<string, Uint8Array>, options: SimFsOptions = {}): SimFs {
    const fs = new SimFs(options);
    for (const [path, bytes] of files) {
      const inode = new Inode();
      inode.write(0, bytes);
      inode.durable = bytes.slice();
      fs.live.set(path, inode);
      fs.durableNames.set(path, inode);
      let d = dirname(path);
      while (!fs.dirs.has(d)) {
        fs.dirs.add(d);
        if (dirname(d) === d) break;
        d = dirname(d);
      }
    }
    return fs;
  }
}

function applyNameOp(names: Map<string, Inode>, op: NameOp): void {
  if (op.kind === "link") {
    names.set(op.path, op.inode);
  } else if (op.kind === "unlink") {
    names.delete(op.path);
  } else {
    const inode = names.get(op.from);
    names.delete(op.from);
    if (inode !== undefined) names.set(op.to, inode);
  }
}

/** Durable bytes plus a random prefix of unsynced appended bytes, maybe then zeros. */
function tornContent(inode: Inode, random: Random): Uint8Array {
  const durable = inode.durable;
  const live = inode.bytes();
  const extends_ = live.length > durable.length && durable.every((b, i) => live[i] === b);
  if (!extends_) return durable;
  const extra = live.length - durable.length;
  const kept = random.int(extra + 1);
  const zeros = random.float() < 0.3 ? random.int(extra - kept + 1) : 0;
  const out = new Uint8Array(durable.length + kept + zeros);
  out.set(live.subarray(0, durable.length + kept));
  return out;
}

class SimWritable implements WritableFile {
  private closed = false;

  constructor(
    private readonly fs: SimFs,
    private readonly inode: Inode,
    private readonly path: string,
  ) {}

  get sizeBytes(): number {
    return this.inode.length;
  }

  private checkOpen(): void {
    if (this.closed) throw fsError("EBADF", `${this.path} is closed`);
  }

  async append(data: Uint8Array): Promise<void> {
    this.checkOpen();
    const at = this.inode.length;
    this.fs.stepFor("append", this.path, () => {
      // A write cut by the crash: some prefix of it reached the page cache.
      const n = Math.floor(data.length / 2);
      this.inode.write(at, data.subarray(0, n));
    });
    this.inode.write(at, data);
  }

  /** As one append of the parts joined: a crash may cut it anywhere, across parts too. */
  appendParts(parts: readonly Uint8Array[]): Promise<void> {
    return this.append(concatParts(parts));
  }

  async datasync(): Promise<void> {
    this.checkOpen();
    const held = this.fs.holdSync(this.path);
    if (held) await held;
    this.fs.stepFor("datasync", this.path);
    this.inode.durable = this.inode.bytes().slice();
  }

  async truncate(sizeBytes: number): Promise<void> {
    this.checkOpen();
    this.fs.stepFor("truncate", this.path);
    this.inode.truncate(sizeBytes);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
