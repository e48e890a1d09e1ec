import { join } from "node:path";
import type { SnapshotMetadata } from "../core/types.js";
import { FileBackedSnapshot, type SnapshotPath } from "./file-snapshot.js";
import type { ReadableFile, StorageFs } from "./fs.js";
import { isNotFound } from "./fs.js";
import {
  readExpectedSnapshotLayout,
  type SnapshotData,
  SnapshotReader,
  snapshotFileName,
  writeSnapshotTemp,
} from "./snapshot-file.js";

export interface Staged {
  readonly metadata: SnapshotMetadata;
  readonly location: SnapshotPath;
}

function stagedKey(m: { index: number; term: number }): string {
  return `${m.index}/${m.term}`;
}

/**
 * The snapshot files of a data directory: temporary files being written,
 * staged files received from a leader, and published files under their final
 * names. Publishing is rename + directory fsync of an already fsynced file;
 * the WAL's base segment, written after it, is what makes a snapshot current.
 */
export class SnapshotFiles {
  /** The newest snapshot durable under its final name. */
  private durable: SnapshotMetadata;
  /** Published files by name, with their index. */
  private readonly published = new Map<string, number>();
  private readonly staged = new Map<string, Staged>();
  private tmpCounter = 0;

  constructor(
    private readonly fs: StorageFs,
    private readonly dir: string,
    current: SnapshotMetadata,
  ) {
    this.durable = current;
    if (current.index > 0) this.published.set(snapshotFileName(current), current.index);
  }

  get durableMetadata(): SnapshotMetadata {
    return this.durable;
  }

  finalPath(meta: { index: number; term: number }): string {
    return join(this.dir, snapshotFileName(meta));
  }

  /** A lazily read Snapshot over the published file of `meta`. */
  fileBacked(meta: SnapshotMetadata): FileBackedSnapshot {
    return new FileBackedSnapshot(meta, this.fs, { path: this.finalPath(meta) });
  }

  /** A lazily read Snapshot over a staged file; it follows the file when published. */
  fileBackedStaged(staged: Staged): FileBackedSnapshot {
    return new FileBackedSnapshot(staged.metadata, this.fs, staged.location);
  }

  private tmpPath(meta: { index: number; term: number }): string {
    const stem = snapshotFileName(meta).slice(0, -".snap".length);
    return join(this.dir, `${stem}.${++this.tmpCounter}.tmp`);
  }

  /** Writes `data` to a new fsynced temporary file; returns its path. */
  async writeTemp(meta: SnapshotMetadata, data: SnapshotData): Promise<string> {
    const tmp = this.tmpPath(meta);
    await writeSnapshotTemp(this.fs, tmp, meta, data);
    return tmp;
  }

  /** Renames a fsynced file to the final name of `meta` and fsyncs the directory. */
  async publish(from: string, meta: SnapshotMetadata): Promise<void> {
    await this.fs.rename(from, this.finalPath(meta));
    await this.fs.syncDir(this.dir);
  }

  async discard(path: string): Promise<void> {
    await this.fs.unlink(path).catch(() => {});
  }

  /** Registers a received file (already fsynced at `tmp`) until a save installs it. */
  async stage(meta: SnapshotMetadata, tmp: string): Promise<FileBackedSnapshot> {
    const key = stagedKey(meta);
    const previous = this.staged.get(key);
    if (previous !== undefined) await this.discard(previous.location.path);
    const staged: Staged = { metadata: meta, location: { path: tmp } };
    this.staged.set(key, staged);
    return this.fileBackedStaged(staged);
  }

  /** The staged file for `meta`, if any, removed from the staging area. */
  takeStaged(meta: { index: number; term: number }): Staged | undefined {
    const key = stagedKey(meta);
    const staged = this.staged.get(key);
    this.staged.delete(key);
    return staged;
  }

  hasStaged(meta: { index: number; term: number }): boolean {
    return this.staged.has(stagedKey(meta));
  }

  /** Publishes a staged file; lazy snapshots over it follow it to the final name. */
  async publishStaged(staged: Staged): Promise<void> {
    await this.fs.rename(staged.location.path, this.finalPath(staged.metadata));
    staged.location.path = this.finalPath(staged.metadata);
    await this.fs.syncDir(this.dir);
  }

  /** `meta` is now the durable current snapshot (its base segment is durable). */
  markDurable(meta: SnapshotMetadata): void {
    this.published.set(snapshotFileName(meta), meta.index);
    if (meta.index > this.durable.index) this.durable = meta;
  }

  /** Removes published and staged files older than the snapshot at `keep` (now durable). */
  async removeBefore(keep: number): Promise<void> {
    for (const [name, index] of [...this.published]) {
      if (index >= keep) continue;
      this.published.delete(name);
      await this.discard(join(this.dir, name));
    }
    for (const [key, s] of [...this.staged]) {
      if (s.metadata.index > keep) continue;
      this.staged.delete(key);
      await this.discard(s.location.path);
    }
  }

  async discardAllStaged(): Promise<void> {
    for (const s of this.staged.values()) await this.discard(s.location.path);
    this.staged.clear();
  }

  /** Opens the newest durable snapshot for streaming. */
  async openReader(): Promise<SnapshotReader> {
    for (;;) {
      const meta = this.durable;
      if (meta.index === 0) return new SnapshotReader(meta, undefined, "", undefined);
      const path = this.finalPath(meta);
      let file: ReadableFile;
      try {
        file = await this.fs.openReadable(path);
      } catch (err) {
        // Replaced by a newer snapshot between reading the name and opening it.
        if (isNotFound(err) && this.durable !== meta) continue;
        throw err;
      }
      try {
        const layout = await readExpectedSnapshotLayout(file, path, meta);
        return new SnapshotReader(meta, file, path, layout);
      } catch (err) {
        await file.close();
        throw err;
      }
    }
  }
}
