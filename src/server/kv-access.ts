import {
  KvReplica,
  type KvResult,
  type KvStore,
  type LeaseKeepAliveResult,
  REQUEST_ID_PATTERN,
  type WriteCommand,
} from "../kv/index.js";
import type { RaftNode } from "../raft/node/index.js";
import { BadRequestError } from "./errors.js";
import type { ServerLimits } from "./options.js";

type Success = Exclude<KvResult, { type: "error" }>;

/** The header a client sets so a retried write is applied once. */
export const IDEMPOTENCY_HEADER = "idempotency-key";

/** The part of an HTTP request a write looks at. */
export interface WriteContext {
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** The request id a write carries, validated; undefined when the client sent none. */
export function requestIdOf(context: WriteContext | undefined): string | undefined {
  const value = context?.headers[IDEMPOTENCY_HEADER];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !REQUEST_ID_PATTERN.test(value)) {
    throw new BadRequestError(
      `header ${IDEMPOTENCY_HEADER} must be 1 to 64 characters of [A-Za-z0-9_-], sent once`,
    );
  }
  return value;
}

/**
 * The server's view of the key space: the member's KvReplica, with the
 * request id of a write taken from the HTTP request's idempotency header.
 */
export class KvAccess {
  readonly replica: KvReplica;

  constructor(node: RaftNode<KvResult>, store: KvStore, limits: ServerLimits) {
    this.replica = new KvReplica(node, store, limits.requestTimeoutMs);
  }

  get node(): RaftNode<KvResult> {
    return this.replica.node;
  }

  get store(): KvStore {
    return this.replica.store;
  }

  write<T extends Success["type"]>(
    command: WriteCommand & { type: T },
    context?: WriteContext,
  ): Promise<Extract<Success, { type: T }>> {
    return this.replica.write<T>(command, requestIdOf(context));
  }

  /** Renews a lease on the leader without a log entry (KvReplica.keepAlive). */
  keepAlive(id: number): Promise<LeaseKeepAliveResult> {
    return this.replica.keepAlive(id);
  }

  read<T>(serializable: boolean, readLocal: (store: KvStore) => T): Promise<T> {
    return this.replica.read(serializable, readLocal);
  }
}
