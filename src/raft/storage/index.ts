export { crc32c, crc32cUpdate } from "./crc32c.js";
export {
  DataDirLockedError,
  DataDirNotEmptyError,
  type DirLock,
  dataDirHolder,
  LOCK_FILE,
  lockDataDir,
} from "./dir-lock.js";
export {
  DataDirMismatchError,
  StaleSnapshotError,
  StorageClosedError,
  StorageCorruptionError,
  StorageFailedError,
} from "./errors.js";
export { FileBackedSnapshot } from "./file-snapshot.js";
export { isNotFound, type ReadableFile, type StorageFs, type WritableFile } from "./fs.js";
export type { DataDirIdentity } from "./identity.js";
export {
  type JournalMember,
  type JournalPort,
  type JournalRecovery,
  SharedJournal,
} from "./journal.js";
export { MemoryStorage } from "./memory.js";
export { NodeStorageFs } from "./node-fs.js";
export type { NodeStorage, PersistUpdate } from "./node-storage.js";
export {
  DEFAULT_SEGMENT_MAX_BYTES,
  MIN_SEGMENT_MAX_BYTES,
  type WalStorageOptions,
} from "./options.js";
export type { RecoveryReport } from "./recovery.js";
export { type SnapshotData, SnapshotReader } from "./snapshot-file.js";
export { MAX_ENTRY_DATA_BYTES } from "./validate.js";
export { type PersistRequest, type WalStats, WalStorage } from "./wal-storage.js";
export type { WriterStats } from "./writer.js";
