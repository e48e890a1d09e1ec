import { ConclaveError } from "../errors.js";

/** The root of every error the key space reports; `code` is stable. */
export class KvError extends ConclaveError {}

/** A command or request field was malformed (wrong type, out of range, missing). */
export class InvalidKvCommandError extends KvError {
  constructor(message: string) {
    super("KV_INVALID_COMMAND", message);
  }
}

/** The requested revision is at or below the compaction point; its history is gone. */
export class CompactedError extends KvError {
  readonly compactRevision: number;
  readonly requestedRevision: number;
  constructor(requestedRevision: number, compactRevision: number) {
    super(
      "KV_COMPACTED",
      `revision ${requestedRevision} has been compacted (compaction point is ${compactRevision})`,
    );
    this.compactRevision = compactRevision;
    this.requestedRevision = requestedRevision;
  }
}

/** The requested revision is newer than the store's current revision. */
export class FutureRevisionError extends KvError {
  readonly currentRevision: number;
  constructor(requestedRevision: number, currentRevision: number) {
    super(
      "KV_FUTURE_REVISION",
      `revision ${requestedRevision} is in the future (current revision is ${currentRevision})`,
    );
    this.currentRevision = currentRevision;
  }
}

/** A transaction branch writes the same key twice (etcd's "duplicate key given in txn request"). */
export class DuplicateKeyError extends KvError {
  constructor(key: string) {
    super("KV_DUPLICATE_KEY", `txn writes key ${JSON.stringify(key)} more than once`);
  }
}

export class LeaseNotFoundError extends KvError {
  constructor(id: number) {
    super("KV_LEASE_NOT_FOUND", `lease ${id} not found`);
  }
}

/**
 * An expiry revoke lost the race with a keep-alive: the lease was renewed
 * after the leader decided it had expired, so it lives on (and the client
 * that was told so keeps its full TTL).
 */
export class LeaseRenewedError extends KvError {
  constructor(id: number) {
    super("KV_LEASE_RENEWED", `lease ${id} was renewed after its expiry was decided; not revoked`);
  }
}

export class LeaseExistsError extends KvError {
  constructor(id: number) {
    super("KV_LEASE_EXISTS", `lease ${id} already exists`);
  }
}

/** put with ignoreValue or ignoreLease on a key that does not exist. */
export class KeyNotFoundError extends KvError {
  constructor(key: string) {
    super("KV_KEY_NOT_FOUND", `key ${JSON.stringify(key)} not found`);
  }
}

/** put with ignoreValue and a non-empty value (etcd's "value is provided"). */
export class ValueProvidedError extends KvError {
  constructor() {
    super("KV_VALUE_PROVIDED", "put has ignoreValue set and also provides a value");
  }
}

/** put with ignoreLease and a lease id (etcd's "lease is provided"). */
export class LeaseProvidedError extends KvError {
  constructor() {
    super("KV_LEASE_PROVIDED", "put has ignoreLease set and also provides a lease");
  }
}

/**
 * A request id (an HTTP `idempotency-key`) came back with a different command
 * than the one first applied under it. Nothing is applied: answering the first
 * command's result would tell the client its second write happened.
 */
export class IdempotencyKeyReusedError extends KvError {
  constructor(id: string) {
    super(
      "IDEMPOTENCY_KEY_REUSED",
      `request id ${JSON.stringify(id)} was already used for a different request; use a fresh id for each request`,
    );
  }
}

/**
 * A write that takes space was refused because a NOSPACE alarm is raised, or
 * because it would take the store past its quota (which raises the alarm).
 * Reads, deletes, lease revokes and compaction still work; after compacting,
 * disarm the alarm (`conclave alarm disarm`). The message is etcd's.
 */
export class NoSpaceError extends KvError {
  constructor(detail?: string) {
    super(
      "KV_NOSPACE",
      detail === undefined ? "database space exceeded" : `database space exceeded: ${detail}`,
    );
  }
}
