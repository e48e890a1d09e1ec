import { queueEntries } from "../keyspace/keys.js";
import type {
  CreatedEntry,
  GrantedLease,
  LeaderRecord,
  LockKeyspace,
  QueueSnapshot,
  WatchedRange,
} from "../keyspace/port.js";
import { boundedCall } from "../sequenced/call.js";
import { conclaveAccessRefusal } from "./access-refusal.js";
import type {
  ClientCallOptions,
  ClientKeyValue,
  ClientTxnOp,
  ClientWatchStream,
  ConclaveKeyspaceClient,
} from "./client-port.js";

const utf8 = new TextDecoder();

/**
 * The lock keyspace over a Conclave cluster's HTTP API (through
 * ConclaveClient, which finds the leader and retries within each call's
 * budget). Each request is bounded by the operation timeout and fails with
 * LockAccessDeniedError when the server refuses the credentials or their
 * permissions, else with BackendUnavailableError; a lease the server no longer knows is an
 * answer (TTL 0, not revoked), not an error.
 */
export class ConclaveKeyspace implements LockKeyspace {
  readonly backendName = "conclave";
  readonly client: ConclaveKeyspaceClient;
  readonly #timeoutMs: number;
  readonly #ownsClient: boolean;

  constructor(client: ConclaveKeyspaceClient, operationTimeoutMs: number, ownsClient: boolean) {
    this.client = client;
    this.#timeoutMs = operationTimeoutMs;
    this.#ownsClient = ownsClient;
  }

  async close(): Promise<void> {
    if (this.#ownsClient) await this.client.close();
  }

  async grantLease(ttlMs: number, lockName: string): Promise<GrantedLease> {
    const ttlSeconds = Math.max(1, Math.ceil(ttlMs / 1000));
    const reply = await this.#call(lockName, (options) =>
      this.client.leaseGrant(ttlSeconds, options),
    );
    return { id: String(reply.id), ttlMs: reply.ttlSeconds * 1000 };
  }

  async keepAlive(leaseId: string, lockName: string): Promise<number> {
    return this.#call(lockName, async (options) => {
      try {
        return (await this.client.leaseKeepAliveOnce(Number(leaseId), options)).ttlSeconds * 1000;
      } catch (error) {
        if (isLeaseNotFound(error)) return 0;
        throw error;
      }
    });
  }

  async revokeLease(leaseId: string, lockName: string): Promise<boolean> {
    return this.#call(lockName, async (options) => {
      try {
        await this.client.leaseRevoke(Number(leaseId), options);
        return true;
      } catch (error) {
        if (isLeaseNotFound(error)) return false;
        throw error;
      }
    });
  }

  async createEntry(
    queuePrefix: string,
    key: string,
    value: string,
    leaseId: string,
    lockName: string,
  ): Promise<CreatedEntry> {
    const queue: ClientTxnOp = { type: "range", key: queuePrefix, prefix: true, keysOnly: true };
    // Safe to resend: a second try finds the key created and reads its create_revision.
    const reply = await this.#call(lockName, (options) =>
      this.client.txn(
        {
          compare: [{ key, target: "create", result: "equal", value: 0 }],
          success: [{ type: "put", key, value, lease: Number(leaseId) }, queue],
          failure: [{ type: "range", key }, queue],
        },
        options,
      ),
    );
    const createRevision = reply.succeeded
      ? reply.revision
      : (reply.responses[0]?.kvs?.[0]?.createRevision ?? 0);
    return {
      createRevision: BigInt(createRevision),
      revision: BigInt(reply.revision),
      entries: toEntries(queuePrefix, reply.responses[1]?.kvs ?? []),
    };
  }

  async readQueue(
    queuePrefix: string,
    lockName: string,
    notBeforeRevision?: bigint,
  ): Promise<QueueSnapshot> {
    const read = async (serializable: boolean) => {
      const reply = await this.#call(lockName, (options) =>
        this.client.range({
          key: queuePrefix,
          prefix: true,
          keysOnly: true,
          serializable,
          ...options,
        }),
      );
      return { revision: BigInt(reply.revision), entries: toEntries(queuePrefix, reply.kvs) };
    };
    if (notBeforeRevision === undefined) return read(false);
    const local = await read(true);
    return local.revision >= notBeforeRevision ? local : read(false);
  }

  async entryExists(key: string, createRevision: bigint, lockName: string): Promise<boolean> {
    const reply = await this.#call(lockName, (options) =>
      this.client.range({ key, keysOnly: true, ...options }),
    );
    return reply.kvs.some((kv) => BigInt(kv.createRevision) === createRevision);
  }

  moveEntry(
    key: string,
    createRevision: bigint,
    leaseId: string,
    lockName: string,
  ): Promise<boolean> {
    return this.#putIfCreated(key, createRevision, lockName, {
      type: "put",
      key,
      value: "",
      lease: Number(leaseId),
      ignoreValue: true,
    });
  }

  putIfCreated(
    key: string,
    createRevision: bigint,
    value: string,
    lockName: string,
  ): Promise<boolean> {
    return this.#putIfCreated(key, createRevision, lockName, {
      type: "put",
      key,
      value,
      ignoreLease: true,
    });
  }

  async #putIfCreated(
    key: string,
    createRevision: bigint,
    lockName: string,
    put: ClientTxnOp,
  ): Promise<boolean> {
    const reply = await this.#call(lockName, (options) =>
      this.client.txn(
        {
          compare: [{ key, target: "create", result: "equal", value: Number(createRevision) }],
          success: [put],
        },
        options,
      ),
    );
    return reply.succeeded;
  }

  async readFirst(queuePrefix: string, lockName: string): Promise<LeaderRecord | undefined> {
    const reply = await this.#call(lockName, (options) =>
      this.client.range({
        key: queuePrefix,
        prefix: true,
        sortTarget: "create",
        sortOrder: "ascend",
        limit: 1,
        ...options,
      }),
    );
    const first = reply.kvs[0];
    if (first === undefined) return undefined;
    return { value: utf8.decode(first.value), createRevision: BigInt(first.createRevision) };
  }

  watchDeletes(range: WatchedRange, fromRevision: bigint, onDelete: () => void): () => void {
    const key = "key" in range ? range.key : range.prefix;
    const stream = this.client.watch(key, {
      prefix: !("key" in range),
      startRevision: Number(fromRevision),
      noPut: true,
    });
    return follow(stream, onDelete);
  }

  async watchChanges(prefix: string, onChange: () => void, lockName: string): Promise<() => void> {
    // Watching from just after a revision read now misses nothing later, with
    // no need to wait for the stream to open.
    const now = await this.#call(lockName, (options) =>
      this.client.range({ key: prefix, prefix: true, countOnly: true, ...options }),
    );
    const stream = this.client.watch(prefix, { prefix: true, startRevision: now.revision + 1 });
    return follow(stream, onChange);
  }

  #call<T>(lockName: string, request: (options: ClientCallOptions) => Promise<T>): Promise<T> {
    return boundedCall(
      "conclave",
      this.#timeoutMs,
      lockName,
      () => request({ timeoutMs: this.#timeoutMs }),
      conclaveAccessRefusal,
    );
  }
}

/** After a watch failed for another reason than compaction, wait this long before looking again. */
const FAILED_WATCH_PAUSE_MS = 500;

/**
 * Calls `onEvent` for every batch with events, and once more when the
 * stream fails for good (the caller then reads again rather than trust a
 * watch that is gone). Returns how to cancel it.
 */
function follow(stream: ClientWatchStream, onEvent: () => void): () => void {
  let active = true;
  let pause: NodeJS.Timeout | undefined;
  const fire = () => {
    if (active) onEvent();
  };
  (async () => {
    try {
      for await (const batch of stream) {
        if (!active) return;
        if (batch.events.length > 0) fire();
      }
    } catch (error) {
      // Compacted history: read again at once. Anything else (a server
      // without the watch route, a malformed stream) would fail again just
      // as fast, so the reread waits a moment rather than spin.
      if (hasCode(error, "KV_COMPACTED")) fire();
      else pause = setTimeout(fire, FAILED_WATCH_PAUSE_MS);
    }
  })();
  return () => {
    active = false;
    clearTimeout(pause);
    stream.cancel();
  };
}

function hasCode(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === code;
}

function isLeaseNotFound(error: unknown): boolean {
  return hasCode(error, "KV_LEASE_NOT_FOUND");
}

function toEntries(queuePrefix: string, kvs: readonly ClientKeyValue[]) {
  return queueEntries(
    queuePrefix,
    kvs.map((kv) => ({ key: utf8.decode(kv.key), createRevision: BigInt(kv.createRevision) })),
  );
}
