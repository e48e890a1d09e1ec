import {
  exceedsQuota,
  KvReplica,
  type KvResult,
  type KvStore,
  type LeaseKeepAliveResult,
  NoSpaceError,
  REQUEST_ID_PATTERN,
  type WriteCommand,
  writeCostBytes,
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
  private readonly quotaBackendBytes: number;

  constructor(node: RaftNode<KvResult>, store: KvStore, limits: ServerLimits) {
    this.replica = new KvReplica(node, store, limits.requestTimeoutMs);
    this.quotaBackendBytes = limits.quotaBackendBytes;
  }

  get node(): RaftNode<KvResult> {
    return this.replica.node;
  }

  get store(): KvStore {
    return this.replica.store;
  }

  async write<T extends Success["type"]>(
    command: WriteCommand & { type: T },
    context?: WriteContext,
  ): Promise<Extract<Success, { type: T }>> {
    const requestId = requestIdOf(context);
    const refusal = await this.quotaRefusal(command);
    // With a request id the log decides: a retry of a write that was applied
    // before the alarm is answered with its first result, anything else is
    // refused at apply (the alarm is raised by now). Telling such a client
    // "refused" here would be wrong about a write that happened.
    if (refusal !== undefined && requestId === undefined) throw refusal;
    return this.replica.write<T>(command, requestId);
  }

  /**
   * etcd's quota check, made before proposing: a write that would take the
   * store past the quota raises this member's NOSPACE alarm through the log
   * (so every replica then refuses writes that take space) and is refused.
   * If the alarm cannot be proposed here (a follower), that error is thrown,
   * so the client retries on the leader, which raises it.
   */
  private async quotaRefusal(command: WriteCommand): Promise<NoSpaceError | undefined> {
    const costBytes = writeCostBytes(command);
    if (costBytes === 0) return undefined;
    if (this.store.alarms.has("NOSPACE")) return new NoSpaceError("a NOSPACE alarm is raised");
    const usedBytes = this.store.sizeBytes;
    if (!exceedsQuota(usedBytes, costBytes, this.quotaBackendBytes)) return undefined;
    await this.replica.write({
      type: "alarm",
      action: "activate",
      memberId: this.node.id,
      alarm: "NOSPACE",
    });
    return new NoSpaceError(
      `${usedBytes} bytes used, this write needs ${costBytes} more, the quota is ${this.quotaBackendBytes}`,
    );
  }

  /** Renews a lease on the leader without a log entry (KvReplica.keepAlive). */
  keepAlive(id: number): Promise<LeaseKeepAliveResult> {
    return this.replica.keepAlive(id);
  }

  /** Renews many leases behind one ReadIndex (KvReplica.keepAliveMany); ttlMs 0: not found. */
  keepAliveMany(ids: readonly number[]) {
    return this.replica.keepAliveMany(ids);
  }

  read<T>(serializable: boolean, readLocal: (store: KvStore) => T): Promise<T> {
    return this.replica.read(serializable, readLocal);
  }
}
