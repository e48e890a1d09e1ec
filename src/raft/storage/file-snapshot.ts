import { SnapshotTemporarilyUnavailableError } from "../core/errors.js";
import type { Snapshot, SnapshotMetadata } from "../core/types.js";
import { sameSnapshotMetadata } from "./codec.js";
import { StorageCorruptionError } from "./errors.js";
import type { StorageFs } from "./fs.js";
import { isNotFound } from "./fs.js";
import { readSnapshotDataSync } from "./snapshot-file.js";

/** Where a snapshot file currently lives; updated when a staged file is renamed into place. */
export interface SnapshotPath {
  path: string;
}

/**
 * A Snapshot whose `data` is read from its file only when asked for. The
 * core only ever reads `metadata`, so handing this to it costs nothing; a
 * node that ships snapshots in-band reads `data` (a synchronous read of the
 * whole file, checksum-checked, not cached); a node that streams them uses
 * WalStorage.openSnapshot() instead and never touches `data`.
 *
 * Reading `data` after the storage replaced this snapshot with a newer one
 * (and removed its file) throws SnapshotTemporarilyUnavailableError.
 */
export class FileBackedSnapshot implements Snapshot {
  constructor(
    readonly metadata: SnapshotMetadata,
    private readonly fs: StorageFs,
    readonly location: SnapshotPath,
  ) {}

  get data(): Uint8Array {
    const path = this.location.path;
    let read: ReturnType<typeof readSnapshotDataSync>;
    try {
      read = readSnapshotDataSync(this.fs, path);
    } catch (err) {
      if (isNotFound(err)) throw new SnapshotTemporarilyUnavailableError();
      throw err;
    }
    const m = read.layout.metadata;
    if (!sameSnapshotMetadata(m, this.metadata)) {
      throw new StorageCorruptionError(
        path,
        0,
        "snapshot file metadata differs from the expected snapshot",
      );
    }
    return read.data;
  }
}
