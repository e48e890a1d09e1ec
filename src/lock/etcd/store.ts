import type { IKeyValue, IRangeRequest, IResponseOp, Watcher } from "etcd3";
import { prefixRangeEnd, queueEntries } from "../keyspace/keys.js";
import type {
  CreatedEntry,
  GrantedLease,
  LeaderRecord,
  LockKeyspace,
  QueueSnapshot,
  WatchedRange,
} from "../keyspace/port.js";
import { boundedCall } from "../sequenced/call.js";
import type { SequenceEntry } from "../sequenced/turn.js";
import {
  type Etcd3,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
} from "./driver.js";

/** Per-call gRPC options: the deadline (ms since the epoch) after which the call is cancelled. */
interface CallOptions {
  readonly deadline: number;
}

/**
 * The lock keyspace over the npm `etcd3` client: each request bounded by the
 * operation timeout (also sent as the gRPC deadline, so a request to an
 * unreachable server does not linger) and failing with LockAccessDeniedError
 * when etcd refuses the credentials or their permissions, else with
 * BackendUnavailableError. "Not found" answers are results, not errors.
 */
export class EtcdStore implements LockKeyspace {
  readonly backendName = "etcd";
  readonly client: Etcd3;
  readonly #timeoutMs: number;
  readonly #ownsClient: boolean;

  /** `ownsClient`: close the client with the store. */
  constructor(client: Etcd3, operationTimeoutMs: number, ownsClient: boolean) {
    this.client = client;
    this.#timeoutMs = operationTimeoutMs;
    this.#ownsClient = ownsClient;
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.client.close();
  }

  async grantLease(ttlMs: number, lockName: string): Promise<GrantedLease> {
    const ttlSeconds = Math.max(1, Math.ceil(ttlMs / 1000));
    const reply = await this.#call(lockName, (options) =>
      this.client.leaseClient.leaseGrant({ TTL: ttlSeconds }, options),
    );
    return { id: reply.ID, ttlMs: Number(reply.TTL) * 1000 };
  }

  /** One keep-alive; the lease's TTL in ms afterwards, 0 if it no longer exists. */
  async keepAlive(leaseId: string, lockName: string): Promise<number> {
    return this.#call(lockName, async (options) => {
      // The deadline also ends the stream if no reply comes.
      const stream = await this.client.leaseClient.leaseKeepAlive(options);
      try {
        const reply = await new Promise<{ TTL: string }>((resolve, reject) => {
          stream.on("data", resolve);
          stream.on("error", reject);
          stream.write({ ID: leaseId });
        });
        return Number(reply.TTL) * 1000;
      } finally {
        stream.on("error", () => {});
        stream.cancel();
      }
    });
  }

  /** Revokes the lease (deleting its keys); false if it had already expired or been revoked. */
  async revokeLease(leaseId: string, lockName: string): Promise<boolean> {
    return this.#call(lockName, async (options) => {
      try {
        await this.client.leaseClient.leaseRevoke({ ID: leaseId }, options);
        return true;
      } catch (error) {
        if (error instanceof EtcdLeaseInvalidError) return false;
        throw error;
      }
    });
  }

  /**
   * Creates the owner's key on its lease (unless a retried request already
   * did) and reads the queue in the same transaction, so the snapshot
   * includes the new key.
   */
  async createEntry(
    queuePrefix: string,
    key: string,
    value: string,
    leaseId: string,
    lockName: string,
  ): Promise<CreatedEntry> {
    const keyBytes = Buffer.from(key);
    const queueRange = rangeOfPrefix(queuePrefix);
    const reply = await this.#call(lockName, (options) =>
      this.client.kv.txn(
        {
          compare: [{ key: keyBytes, target: "Create", result: "Equal", create_revision: 0 }],
          success: [
            { request_put: { key: keyBytes, value: Buffer.from(value), lease: leaseId } },
            { request_range: queueRange },
          ],
          failure: [{ request_range: { key: keyBytes } }, { request_range: queueRange }],
        },
        options,
      ),
    );
    const revision = BigInt(reply.header.revision);
    const queue = rangeKvs(reply.responses[1]);
    const createRevision = reply.succeeded
      ? revision
      : BigInt(rangeKvs(reply.responses[0])[0]?.create_revision ?? 0);
    return { createRevision, revision, entries: toEntries(queuePrefix, queue) };
  }

  async readQueue(
    queuePrefix: string,
    lockName: string,
    notBeforeRevision?: bigint,
  ): Promise<QueueSnapshot> {
    const read = async (serializable: boolean) => {
      const reply = await this.#call(lockName, (options) =>
        this.client.kv.range({ ...rangeOfPrefix(queuePrefix), serializable }, options),
      );
      return {
        revision: BigInt(reply.header.revision),
        entries: toEntries(queuePrefix, reply.kvs),
      };
    };
    if (notBeforeRevision === undefined) return read(false);
    const local = await read(true);
    return local.revision >= notBeforeRevision ? local : read(false);
  }

  /** Whether `key` still exists with this create_revision (it was not deleted and re-created). */
  async entryExists(key: string, createRevision: bigint, lockName: string): Promise<boolean> {
    const reply = await this.#call(lockName, (options) =>
      this.client.kv.range({ key: Buffer.from(key), keys_only: true }, options),
    );
    return reply.kvs.some((kv) => BigInt(kv.create_revision) === createRevision);
  }

  /** Moves an existing key (same create_revision, same value) to another lease. */
  moveEntry(
    key: string,
    createRevision: bigint,
    leaseId: string,
    lockName: string,
  ): Promise<boolean> {
    return this.#putIfCreated(key, createRevision, lockName, {
      lease: leaseId,
      ignore_value: true,
    });
  }

  /** Replaces the value of the key if it still has this create_revision; keeps its lease. */
  putIfCreated(
    key: string,
    createRevision: bigint,
    value: string,
    lockName: string,
  ): Promise<boolean> {
    return this.#putIfCreated(key, createRevision, lockName, {
      value: Buffer.from(value),
      ignore_lease: true,
    });
  }

  /** A put applied only while the key still has this create_revision (it was not recreated). */
  async #putIfCreated(
    key: string,
    createRevision: bigint,
    lockName: string,
    put: { lease?: string; ignore_value?: boolean; value?: Buffer; ignore_lease?: boolean },
  ): Promise<boolean> {
    const keyBytes = Buffer.from(key);
    const reply = await this.#call(lockName, (options) =>
      this.client.kv.txn(
        {
          compare: [
            {
              key: keyBytes,
              target: "Create",
              result: "Equal",
              create_revision: createRevision.toString(),
            },
          ],
          success: [{ request_put: { key: keyBytes, ...put } }],
        },
        options,
      ),
    );
    return reply.succeeded;
  }

  /** The oldest key of the queue: the leader of an election. */
  async readFirst(queuePrefix: string, lockName: string): Promise<LeaderRecord | undefined> {
    const reply = await this.#call(lockName, (options) =>
      this.client.kv.range(
        {
          ...rangeOfPrefix(queuePrefix),
          keys_only: false,
          sort_target: "Create",
          sort_order: "Ascend",
          limit: 1,
        },
        options,
      ),
    );
    const first = reply.kvs[0];
    if (first === undefined) return undefined;
    return { value: first.value.toString("utf8"), createRevision: BigInt(first.create_revision) };
  }

  /**
   * Calls `onDelete` when a key in the range is deleted at or after
   * `fromRevision` (also for deletions that happened before the watch was
   * set up), or when the watch fails (so the caller looks again). Returns
   * a function that cancels the watch.
   */
  watchDeletes(range: WatchedRange, fromRevision: bigint, onDelete: () => void): () => void {
    const builder = this.client.watch();
    if ("key" in range) builder.key(range.key);
    else builder.prefix(range.prefix);
    const watcher: Watcher = builder.startRevision(fromRevision.toString()).watcher();
    let active = true;
    const fire = () => {
      if (active) onDelete();
    };
    watcher.on("delete", fire);
    watcher.on("error", fire);
    return () => {
      active = false;
      watcher.removeAllListeners("delete");
      // Late errors of a cancelled watch must not crash the process.
      watcher.on("error", () => {});
      watcher.cancel().catch(() => {});
    };
  }

  /**
   * Calls `onChange` on every put or delete in the range from now on.
   * Resolves once etcd confirmed the watch, so no later change is missed.
   */
  async watchChanges(prefix: string, onChange: () => void, lockName: string): Promise<() => void> {
    const watcher = this.client.watch().prefix(prefix).watcher();
    watcher.on("put", onChange);
    watcher.on("delete", onChange);
    watcher.on("error", onChange);
    const cancel = () => {
      watcher.removeAllListeners("put");
      watcher.removeAllListeners("delete");
      watcher.removeAllListeners("error");
      watcher.on("error", () => {});
      watcher.cancel().catch(() => {});
    };
    try {
      await boundedCall(
        "etcd",
        this.#timeoutMs,
        lockName,
        () => new Promise<void>((resolve) => watcher.once("connected", () => resolve())),
      );
    } catch (error) {
      cancel();
      throw error;
    }
    return cancel;
  }

  #call<T>(lockName: string, request: (options: CallOptions) => Promise<T>): Promise<T> {
    return boundedCall(
      "etcd",
      this.#timeoutMs,
      lockName,
      () => request({ deadline: Date.now() + this.#timeoutMs }),
      etcdAccessRefusal,
    );
  }
}

/** etcd's refusals of access, as the codes a Conclave server gives the same refusals. */
export function etcdAccessRefusal(error: unknown): string | undefined {
  if (error instanceof EtcdPermissionDeniedError) return "PERMISSION_DENIED";
  if (error instanceof EtcdAuthenticationFailedError) return "AUTH_FAILED";
  if (error instanceof EtcdInvalidAuthTokenError) return "INVALID_AUTH_TOKEN";
  return undefined;
}

function rangeOfPrefix(prefix: string): IRangeRequest {
  const key = Buffer.from(prefix);
  return { key, range_end: prefixRangeEnd(key), keys_only: true };
}

function rangeKvs(op: IResponseOp | undefined): IKeyValue[] {
  return op?.response_range?.kvs ?? [];
}

function toEntries(queuePrefix: string, kvs: readonly IKeyValue[]): SequenceEntry[] {
  return queueEntries(
    queuePrefix,
    kvs.map((kv) => ({ key: kv.key.toString("utf8"), createRevision: BigInt(kv.create_revision) })),
  );
}
