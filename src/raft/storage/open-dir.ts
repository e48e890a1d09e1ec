import { join } from "node:path";
import { EMPTY_CONF_STATE, EMPTY_HARD_STATE } from "../core/types.js";
import { DataDirNotEmptyError, type DirLock, LOCK_FILE } from "./dir-lock.js";
import { StorageCorruptionError } from "./errors.js";
import type { StorageFs, WritableFile } from "./fs.js";
import { isNotFound } from "./fs.js";
import {
  checkIdentity,
  type DataDirIdentity,
  IDENTITY_FILE,
  readIdentity,
  writeIdentity,
} from "./identity.js";
import { encodeBaseRecords } from "./records.js";
import { type RecoveredWal, type RecoveryReport, recoverWal } from "./recovery.js";
import { parseSegmentFileName, SegmentKind, segmentFileName } from "./segment.js";
import { parseSnapshotFileName, snapshotFileName } from "./snapshot-file.js";
import { publishSegment } from "./writer.js";

export interface OpenedDataDir {
  readonly recovered: RecoveredWal;
  readonly report: RecoveryReport;
  /** The newest segment, open for appending. */
  readonly lastSegment: WritableFile;
  /** This process's hold of the directory; release it after closing the files. */
  readonly lock: DirLock;
}

function isOurTempFile(name: string): boolean {
  return (
    name.endsWith(".tmp") &&
    (name.startsWith("wal-") || name.startsWith("snap-") || name === `${IDENTITY_FILE}.tmp`)
  );
}

function isPristine(r: RecoveredWal): boolean {
  return (
    r.baseSeq === 1 &&
    r.lastSeq === 1 &&
    r.snapshot.index === 0 &&
    r.window.lastIndex() === 0 &&
    r.hardState.term === 0 &&
    r.hardState.vote === 0 &&
    r.hardState.commit === 0
  );
}

async function removeQuietly(fs: StorageFs, path: string): Promise<boolean> {
  try {
    await fs.unlink(path);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/**
 * Opens (creating when new) a data directory: takes its lock before reading
 * or removing anything, checks its identity before touching anything else, initialises a new one, recovers the WAL, removes
 * leftovers of interrupted operations.
 *
 * Creation order: the first base segment, then the identity file. So a
 * directory with segments but no identity is either a creation cut short
 * (the segment is pristine: it is finished) or damage (refused).
 */
export async function openDataDir(
  fs: StorageFs,
  dir: string,
  identity: DataDirIdentity,
  mustBeNew = false,
): Promise<OpenedDataDir> {
  await fs.mkdirp(dir);
  const lock = await fs.lockDir(dir);
  try {
    if (mustBeNew && (await fs.readdir(dir)).some((name) => name !== LOCK_FILE)) {
      throw new DataDirNotEmptyError(dir);
    }
    return { ...(await openLockedDataDir(fs, dir, identity)), lock };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function openLockedDataDir(
  fs: StorageFs,
  dir: string,
  identity: DataDirIdentity,
): Promise<Omit<OpenedDataDir, "lock">> {
  const identityPath = join(dir, IDENTITY_FILE);
  const stored = await readIdentity(fs, dir, identityPath);
  if (stored !== undefined) checkIdentity(dir, stored, identity);
  const names = await fs.readdir(dir);
  const removed: string[] = [];
  for (const name of names.filter(isOurTempFile)) {
    if (await removeQuietly(fs, join(dir, name))) removed.push(name);
  }
  let seqs = names
    .map(parseSegmentFileName)
    .filter((s): s is number => s !== undefined)
    .sort((a, b) => a - b);
  const snapshotNames = names.filter((n) => parseSnapshotFileName(n) !== undefined);
  if (seqs.length === 0) {
    if (stored !== undefined) {
      throw new StorageCorruptionError(
        dir,
        undefined,
        "the directory has an identity file but no WAL segment",
      );
    }
    if (snapshotNames.length > 0) {
      throw new StorageCorruptionError(
        join(dir, snapshotNames[0]!),
        undefined,
        "snapshot file in a directory without a WAL",
      );
    }
    const initial = encodeBaseRecords(
      { index: 0, term: 0, confState: EMPTY_CONF_STATE },
      { index: 0, term: 0 },
      [],
      EMPTY_HARD_STATE,
    );
    const file = await publishSegment(fs, dir, 1, SegmentKind.Base, initial);
    await file.close();
    seqs = [1];
  }
  const recovered = await recoverWal(fs, dir, seqs);
  if (stored === undefined) {
    if (!isPristine(recovered)) {
      throw new StorageCorruptionError(
        identityPath,
        undefined,
        "identity file missing, but the WAL holds data",
      );
    }
    await writeIdentity(fs, dir, identityPath, identity);
  }
  for (const seq of seqs) {
    if (seq >= recovered.baseSeq) break;
    if (await removeQuietly(fs, join(dir, segmentFileName(seq))))
      removed.push(segmentFileName(seq));
  }
  const currentSnapshot =
    recovered.snapshot.index > 0 ? snapshotFileName(recovered.snapshot) : undefined;
  for (const name of snapshotNames) {
    if (name === currentSnapshot) continue;
    if (await removeQuietly(fs, join(dir, name))) removed.push(name);
  }
  const lastSegment = await fs.openWritable(
    join(dir, segmentFileName(recovered.lastSeq)),
    "existing",
  );
  return {
    recovered,
    lastSegment,
    report: {
      segmentsReplayed: recovered.segmentsReplayed,
      entriesRecovered: recovered.window.length,
      ...(recovered.tornTail ? { tornTail: recovered.tornTail } : {}),
      removedFiles: removed,
    },
  };
}
