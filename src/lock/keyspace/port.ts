/**
 * The port between the key-queue lock recipe (`KeyspaceLockBackend`) and a
 * store with etcd v3 semantics: leases with a TTL, keys attached to a lease
 * and deleted with it, create_revision, transactions and watches from a
 * revision. The etcd backend plugs in an adapter over the npm `etcd3`
 * client, the conclave backend one over `ConclaveClient`; the recipe itself
 * exists once.
 *
 * Every call is bounded by the adapter's operation timeout and fails only
 * with BackendUnavailableError; "not found" answers are results, not errors.
 */
import type { SequenceEntry } from "../sequenced/turn.js";

/** The queue of one name as the store saw it at `revision`. */
export interface QueueSnapshot {
  readonly entries: SequenceEntry[];
  readonly revision: bigint;
}

export interface CreatedEntry extends QueueSnapshot {
  /** The key's create_revision: its place in the queue and its fencing token. */
  readonly createRevision: bigint;
}

export interface GrantedLease {
  /** The lease id as a decimal string (int64 on the wire). */
  readonly id: string;
  /** The TTL the store granted, in ms (whole seconds, at least the server's minimum lease TTL). */
  readonly ttlMs: number;
}

export interface LeaderRecord {
  readonly value: string;
  readonly createRevision: bigint;
}

/** Which keys a watch covers: one key, or every key under a prefix. */
export type WatchedRange = { readonly key: string } | { readonly prefix: string };

export interface LockKeyspace {
  /** Names the store in errors and guarantees: "etcd", "conclave". */
  readonly backendName: string;

  grantLease(ttlMs: number, lockName: string): Promise<GrantedLease>;
  /** One keep-alive; the lease's TTL in ms afterwards, 0 if it no longer exists. */
  keepAlive(leaseId: string, lockName: string): Promise<number>;
  /** Revokes the lease (deleting its keys); false if it had already expired or been revoked. */
  revokeLease(leaseId: string, lockName: string): Promise<boolean>;

  /**
   * Creates the owner's key on its lease (unless a retried request already
   * did) and reads the queue (keys under `queuePrefix`) in the same
   * transaction, so the snapshot includes the new key.
   */
  createEntry(
    queuePrefix: string,
    key: string,
    value: string,
    leaseId: string,
    lockName: string,
  ): Promise<CreatedEntry>;
  /**
   * Every key of the queue (keys only). A linearizable read, unless
   * `notBeforeRevision` is given: then the answering member's own state
   * (a serializable read, no quorum round) when it has applied at least that
   * revision, else a linearizable read. A waiter may decide on such a read:
   * a queue only loses entries ahead of a waiter, so what a committed state
   * shows as clear ahead stays clear.
   */
  readQueue(
    queuePrefix: string,
    lockName: string,
    notBeforeRevision?: bigint,
  ): Promise<QueueSnapshot>;
  /** Whether `key` still exists with this create_revision (it was not deleted and re-created). */
  entryExists(key: string, createRevision: bigint, lockName: string): Promise<boolean>;
  /** Moves an existing key (same create_revision, same value) to another lease. */
  moveEntry(
    key: string,
    createRevision: bigint,
    leaseId: string,
    lockName: string,
  ): Promise<boolean>;
  /** Replaces the value of the key if it still has this create_revision; keeps its lease. */
  putIfCreated(
    key: string,
    createRevision: bigint,
    value: string,
    lockName: string,
  ): Promise<boolean>;
  /** The key of the queue with the smallest create_revision, with its value: an election's leader. */
  readFirst(queuePrefix: string, lockName: string): Promise<LeaderRecord | undefined>;

  /**
   * Calls `onDelete` when a key in the range is deleted at or after
   * `fromRevision` (also for deletions that happened before the watch was
   * set up), or when the watch fails (so the caller looks again). Returns
   * a function that cancels the watch.
   */
  watchDeletes(range: WatchedRange, fromRevision: bigint, onDelete: () => void): () => void;
  /**
   * Calls `onChange` on every put or delete under `prefix` from now on (or
   * when the watch fails). Resolves once the store confirmed the watch, so
   * no later change is missed.
   */
  watchChanges(prefix: string, onChange: () => void, lockName: string): Promise<() => void>;

  /** Closes the connections the adapter owns (not a client it was handed). */
  close(): Promise<void>;
}
