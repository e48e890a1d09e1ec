import type { KeyString } from "../bytes.js";
import type { KeyRecord, RecordNumbers } from "../mvcc.js";
import type { RequestEntry } from "../requests.js";

/**
 * Where the key space keeps its bytes. The store keeps its key index (every
 * key's revisions, without values) and its small tables in memory; the
 * backend holds every retained record by revision (etcd's key bucket), the
 * tables and the remembered requests, and the applied Raft index — all
 * committed together, so what a backend holds is always the state after
 * one applied index, never a mix.
 *
 * Commits need not be durable: the Raft log is the durability log. A backend
 * that comes back older than the last snapshot after a crash is restored from
 * the snapshot; one that comes back at index N replays the log after N.
 */
export interface MvccBackend {
  readonly kind: "memory" | "lmdb";
  /**
   * For a backend whose records (those putRecord and load hand back) read
   * their value from it by revision: lets the key index hold them as numbers.
   */
  readonly recordNumbers?: RecordNumbers;
  /** The state of the last commit a previous opening made; undefined for an empty backend. */
  load(): LoadedState | undefined;
  /**
   * Stages a record written at its (modRevision, subRevision). Returns the
   * record the key index should keep: the same, or one whose value is read
   * back from the backend on demand. The value's bytes must not change
   * afterwards (a view of a log entry, or a copy the caller owns): a backend
   * may read them again when its commit is written.
   */
  putRecord(key: KeyString, record: KeyRecord): KeyRecord;
  /** Stages the removal of compacted records. */
  removeRecords(records: Iterable<KeyRecord>): void;
  /** Stages the store's small tables (leases, members, auth, ...), encoded. */
  putTables(tables: Uint8Array): void;
  /** Stages one lease's row (id, TTL, renewals, checkpointed remaining TTL). */
  putLease(row: LeaseRow): void;
  removeLease(id: number): void;
  /**
   * Stages a remembered request under its `seq` (a later `seq` is a younger
   * entry), as a request row (see RequestSink) whose bytes do not change
   * until it is forgotten.
   */
  putRequest(seq: number, row: Uint8Array): void;
  /**
   * Stages forgetting every request put under a number below `seq` (which
   * never decreases). Requests forgotten out of turn are not told: see
   * RequestSink.
   */
  forgetRequestsBefore(seq: number): void;
  /** Everything staged since the last commit becomes visible to `load` at once, with `meta`. */
  commit(meta: BackendMeta): void;
  /** Drops everything (before a snapshot is restored); takes effect with the next commit. */
  clear(): void;
  /** Bytes the backend occupies (the file's size on disk; an estimate in memory). */
  sizeBytes(): number;
  /** Resolves once every commit made so far is as durable as the backend makes it. */
  flushed(): Promise<void>;
  close(): Promise<void>;
}

/** A lease as a backend keeps it: one row per lease, so a grant writes one row, not all. */
export type LeaseRow = [id: number, ttlMs: number, renewals: number, remainingMs?: number];

/** What each commit records beside the data. */
export interface BackendMeta {
  readonly appliedIndex: number;
  readonly revision: number;
  readonly compactRevision: number;
}

export interface LoadedState {
  readonly meta: BackendMeta;
  /** The tables as last put (undefined if never). */
  readonly tables: Uint8Array | undefined;
  /** Every retained record at or below `meta.revision`, in revision order. */
  readonly records: Iterable<[KeyString, KeyRecord]>;
  /** Every lease's row, in id order. */
  readonly leases: readonly LeaseRow[];
  /**
   * Requests put and not forgotten before the last `forgetRequestsBefore`,
   * oldest first (by sequence number), with their sequence numbers. Adding
   * them to a request log in this order gives the log that put them.
   */
  readonly requests: readonly (readonly [seq: number, entry: RequestEntry])[];
}

/** Orders records as etcd's key bucket does: by revision, then by place inside it. */
export function compareRevisions(a: KeyRecord, b: KeyRecord): number {
  return a.modRevision - b.modRevision || a.subRevision - b.subRevision;
}
