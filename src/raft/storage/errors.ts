import { ConclaveError } from "../../errors.js";

/**
 * Stored data failed validation: a checksum mismatch, a record that makes no
 * sense where it stands, a missing file the log refers to. The node must not
 * start on such a directory; an operator has to restore it (or rebuild the
 * member from a snapshot of a healthy peer).
 */
export class StorageCorruptionError extends ConclaveError {
  /** The file that failed validation. */
  readonly file: string;
  /** Byte offset in `file` where the bad data starts, when it is known. */
  readonly offset: number | undefined;

  constructor(file: string, offset: number | undefined, detail: string, options?: ErrorOptions) {
    super(
      "STORAGE_CORRUPT",
      offset === undefined
        ? `corrupt storage: ${file}: ${detail}`
        : `corrupt storage: ${file} at offset ${offset}: ${detail}`,
      options,
    );
    this.file = file;
    this.offset = offset;
  }
}

/** The data directory belongs to another cluster or another node. */
export class DataDirMismatchError extends ConclaveError {
  constructor(dir: string, field: "clusterId" | "nodeId", stored: string, expected: string) {
    super(
      "DATA_DIR_MISMATCH",
      `data directory ${dir} belongs to ${field} ${stored}, but this node was started as ${field} ${expected}`,
    );
  }
}

/**
 * An earlier write or sync failed, so what is on disk is unknown. A failed
 * fsync cannot be retried safely (the kernel may have dropped the dirty
 * pages), so the storage refuses every later write; the node must stop and
 * recover by reopening the directory.
 */
export class StorageFailedError extends ConclaveError {
  constructor(detail: string, options?: ErrorOptions) {
    super("STORAGE_FAILED", `storage failed: ${detail}`, options);
  }
}

/** The storage was closed. */
export class StorageClosedError extends ConclaveError {
  constructor() {
    super("STORAGE_CLOSED", "storage is closed");
  }
}

/** A snapshot is not newer than the one already held, or became stale while it was written. */
export class StaleSnapshotError extends ConclaveError {
  constructor(index: number, currentIndex: number) {
    super(
      "SNAPSHOT_STALE",
      `snapshot at index ${index} is not newer than the current snapshot at index ${currentIndex}`,
    );
  }
}
