import { InvalidArgumentError } from "../../errors.js";
import type { NodeId } from "../core/types.js";
import type { StorageFs } from "./fs.js";
import type { JournalMember, JournalPort } from "./journal.js";
import { NodeStorageFs } from "./node-fs.js";

export const DEFAULT_SEGMENT_MAX_BYTES = 64 * 1024 * 1024;
export const MIN_SEGMENT_MAX_BYTES = 1024;
const MAX_CLUSTER_ID_LENGTH = 256;

export interface WalStorageOptions {
  /** The cluster this directory belongs to; opening it for another cluster fails. */
  readonly clusterId: string;
  /** This member's id; opening the directory as another member fails. */
  readonly nodeId: NodeId;
  /** A segment is closed and a new one started once it reaches this size. Default 64 MiB. */
  readonly segmentMaxBytes?: number;
  /**
   * Entries kept before a new snapshot's index when createSnapshot compacts
   * the log, so a follower slightly behind can catch up from the log instead
   * of a snapshot transfer. Default 0. They are held in memory too.
   */
  readonly snapshotCatchUpEntries?: number;
  /**
   * ...and at most this many bytes of them (payload plus 24 per entry), so
   * that big entries neither pile up in memory nor make each compaction
   * rewrite them. Default unbounded.
   */
  readonly snapshotCatchUpBytes?: number;
  /** The file system; tests inject faults through it. Default: node:fs. */
  readonly fs?: StorageFs;
  /**
   * Refuse a directory that already holds anything (its LOCK file aside),
   * checked while holding the lock: for tools that build a new member's
   * directory, so two of them cannot fill one directory.
   */
  readonly mustBeNew?: boolean;
  /**
   * Make appends durable through a journal shared with other WALs (one
   * fdatasync for all of them, see journal.ts) instead of syncing this WAL's
   * segments on every write. `attach` is called once, at open.
   */
  readonly journal?: { attach(member: JournalMember): JournalPort };
}

export type ResolvedWalOptions = Required<Omit<WalStorageOptions, "journal">> &
  Pick<WalStorageOptions, "journal">;

export function resolveWalOptions(dir: string, options: WalStorageOptions): ResolvedWalOptions {
  if (typeof dir !== "string" || dir.length === 0) {
    throw new InvalidArgumentError("storage directory must be a non-empty path");
  }
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError("storage options are required (clusterId, nodeId)");
  }
  const { clusterId, nodeId } = options;
  if (
    typeof clusterId !== "string" ||
    clusterId.length === 0 ||
    clusterId.length > MAX_CLUSTER_ID_LENGTH
  ) {
    throw new InvalidArgumentError(
      `clusterId must be a non-empty string of at most ${MAX_CLUSTER_ID_LENGTH} characters`,
    );
  }
  if (!Number.isSafeInteger(nodeId) || nodeId <= 0) {
    throw new InvalidArgumentError(`nodeId must be a positive integer, got ${nodeId}`);
  }
  const segmentMaxBytes = options.segmentMaxBytes ?? DEFAULT_SEGMENT_MAX_BYTES;
  if (!Number.isSafeInteger(segmentMaxBytes) || segmentMaxBytes < MIN_SEGMENT_MAX_BYTES) {
    throw new InvalidArgumentError(
      `segmentMaxBytes must be an integer of at least ${MIN_SEGMENT_MAX_BYTES}, got ${segmentMaxBytes}`,
    );
  }
  const snapshotCatchUpEntries = options.snapshotCatchUpEntries ?? 0;
  if (!Number.isSafeInteger(snapshotCatchUpEntries) || snapshotCatchUpEntries < 0) {
    throw new InvalidArgumentError(
      `snapshotCatchUpEntries must be a non-negative integer, got ${snapshotCatchUpEntries}`,
    );
  }
  const snapshotCatchUpBytes = options.snapshotCatchUpBytes ?? Number.POSITIVE_INFINITY;
  if (
    snapshotCatchUpBytes !== Number.POSITIVE_INFINITY &&
    (!Number.isSafeInteger(snapshotCatchUpBytes) || snapshotCatchUpBytes < 0)
  ) {
    throw new InvalidArgumentError(
      `snapshotCatchUpBytes must be a non-negative integer, got ${snapshotCatchUpBytes}`,
    );
  }
  return {
    clusterId,
    nodeId,
    segmentMaxBytes,
    snapshotCatchUpEntries,
    snapshotCatchUpBytes,
    fs: options.fs ?? new NodeStorageFs(),
    mustBeNew: options.mustBeNew ?? false,
    ...(options.journal !== undefined && { journal: options.journal }),
  };
}
