import { status as GrpcCode, type Metadata } from "@grpc/grpc-js";
import {
  type KeyValue,
  type KvEvent,
  type KvStore,
  prefixEnd,
  type Watcher,
} from "../../kv/index.js";
import { encodeBase64 } from "../base64.js";
import { keyValueJson } from "../wire.js";
import { GrpcCallError, type JsonObject } from "./bridge.js";
import type { GrpcContext } from "./context.js";

/** Calls of one service (Lock, or Campaign and Observe) waiting on one member at most. */
export const MAX_QUEUE_WAITERS = 10_000;

/** The TTL etcd's lock and election services give the lease they grant for a call without one. */
export const SESSION_TTL_SECONDS = 60;

/** What a queue's call is: a gRPC call, still open or cancelled by its client. */
export interface QueueCall {
  readonly metadata: Metadata;
  getPeer(): string;
  readonly cancelled: boolean;
  on(event: "cancelled", listener: () => void): unknown;
  removeListener(event: "cancelled", listener: () => void): unknown;
}

/** A key that joined a queue: where it stands in it and the write that put it there. */
export interface QueuedKey {
  readonly key: Uint8Array;
  /** Its create revision: its place in the queue. */
  readonly createRevision: number;
  /** The value it held before this call, when it was already queued (its lease's earlier call). */
  readonly previousValue?: string;
  readonly header: JsonObject;
}

/** The call was cancelled (by its client, a deadline or the server closing) while it waited. */
export class QueueWaitCancelledError extends GrpcCallError {
  constructor() {
    super({ code: GrpcCode.CANCELLED, details: "context canceled" }, "CANCELLED");
  }
}

/** This member has as many calls waiting as it takes. */
export class TooManyQueueWaitersError extends GrpcCallError {
  constructor() {
    super(
      {
        code: GrpcCode.RESOURCE_EXHAUSTED,
        details: `etcdserver: ${MAX_QUEUE_WAITERS} calls already wait for a lock or an election on this member`,
      },
      "TOO_MANY_WAITERS",
    );
  }
}

const bytes = (text: string) => new Uint8Array(Buffer.from(text, "base64"));

/** `name` + "/": the prefix every key of a lock or an election lives under. */
export function queuePrefix(name: Uint8Array): Uint8Array {
  return Buffer.concat([name, Buffer.from("/")]);
}

/** A lease's key under `prefix`: the lease id in lower-case hex, as etcd's recipes name it. */
export function queueKey(prefix: Uint8Array, lease: string): Uint8Array {
  return new Uint8Array(Buffer.concat([prefix, Buffer.from(BigInt(lease).toString(16))]));
}

/** The first key of a queue (lowest create revision): its owner; undefined when it is empty. */
export function queueHead(store: KvStore, prefix: Uint8Array): KeyValue | undefined {
  return store.range({
    key: prefix,
    rangeEnd: prefixEnd(prefix),
    sortTarget: "create",
    sortOrder: "ascend",
    limit: 1,
  }).kvs[0];
}

/** `kv` as etcd's JSON gateway (and so the proto-loader) spells a KeyValue. */
export function keyValueMessage(kv: KeyValue): JsonObject {
  return { ...keyValueJson(kv) };
}

/**
 * etcd's queue recipe (its Mutex and Election), shared by the Lock and
 * Election services: each waiter puts one key under the name's prefix,
 * bound to its lease; the key with the lowest create revision owns the
 * name; the others wait for the keys created before theirs to be deleted
 * (unlocked, resigned, or gone with their lease), so a deletion wakes the
 * waiters and the first in line takes over, no herd racing for the name.
 *
 * Writes go through the HTTP routes (the bridge), so a follower forwards
 * them to the leader and auth is the caller's. The wait itself is local: a
 * watch on this member's store, which applies every committed revision.
 */
export class KeyQueue {
  #waiters = 0;

  constructor(private readonly ctx: GrpcContext) {}

  /** Calls waiting or observing now (for tests and metrics). */
  get waiters(): number {
    return this.#waiters;
  }

  /**
   * The lease a call's key lives under: the one it names, or (for 0, as
   * etcd's services do) a new lease of SESSION_TTL_SECONDS that nobody
   * renews, so a key left behind goes away on its own.
   */
  async lease(lease: string, call: QueueCall): Promise<string> {
    if (lease !== "0") return lease;
    const granted = await this.ctx.bridge.post(
      "/v3/lease/grant",
      { TTL: String(SESSION_TTL_SECONDS) },
      call,
    );
    return String(granted["ID"]);
  }

  /**
   * Puts `key` (with `value`, under `lease`) unless it exists: a lease's
   * second call keeps the place its first one took.
   */
  async join(
    key: Uint8Array,
    value: Uint8Array,
    lease: string,
    call: QueueCall,
  ): Promise<QueuedKey> {
    const k = encodeBase64(key);
    const answer = await this.ctx.bridge.post(
      "/v3/kv/txn",
      {
        compare: [{ key: k, target: "CREATE", result: "EQUAL", create_revision: "0" }],
        success: [{ request_put: { key: k, value: encodeBase64(value), lease } }],
        failure: [{ request_range: { key: k } }],
      },
      call,
    );
    const header = (answer["header"] ?? {}) as JsonObject;
    if (answer["succeeded"] === true) {
      return { key, createRevision: Number(header["revision"]), header };
    }
    const responses = answer["responses"] as { response_range?: { kvs?: JsonObject[] } }[];
    const existing = responses[0]?.response_range?.kvs?.[0];
    if (existing === undefined) {
      // Deleted between the compare and now is impossible within one txn: an invariant.
      throw new Error("queue txn failed its create compare yet found no key");
    }
    return {
      key,
      createRevision: Number(existing["create_revision"]),
      previousValue: typeof existing["value"] === "string" ? existing["value"] : "",
      header,
    };
  }

  /** Deletes `key` (leaves the queue); resolves with the answer's header. */
  async leave(key: Uint8Array, call: QueueCall): Promise<JsonObject> {
    const answer = await this.ctx.bridge.post(
      "/v3/kv/deleterange",
      { key: encodeBase64(key) },
      call,
    );
    return (answer["header"] ?? {}) as JsonObject;
  }

  /**
   * waitForTurn, and when the call is cancelled the key leaves the queue:
   * a lock or campaign given up must not hold up everyone behind it.
   */
  async waitForTurnOrLeave(
    prefix: Uint8Array,
    queued: QueuedKey,
    call: QueueCall,
    lost: () => Error,
  ): Promise<JsonObject> {
    try {
      return await this.waitForTurn(prefix, queued, call, lost);
    } catch (err) {
      if (err instanceof QueueWaitCancelledError) {
        await this.leave(queued.key, call).catch((e: unknown) => {
          this.ctx.log.warn({ err: e }, "a cancelled queue wait could not delete its key");
        });
      }
      throw err;
    }
  }

  /**
   * Resolves once `queued` heads its queue: no key under `prefix` created
   * before it is left. Rejects with `lost()` when the key itself is deleted
   * first (its lease expired, or it was unlocked or resigned), and with
   * QueueWaitCancelledError when the call is cancelled. Either way the
   * watch is removed.
   */
  waitForTurn(
    prefix: Uint8Array,
    queued: QueuedKey,
    call: QueueCall,
    lost: () => Error,
  ): Promise<JsonObject> {
    const store = this.ctx.kv.store;
    // The key just before this one: keys join with ever higher create
    // revisions, so only its deletion (or this key's own) can change the
    // answer, and a deletion elsewhere in the queue costs a comparison, not
    // a scan: as etcd, no herd of waiters rereading the queue.
    let predecessor: Uint8Array | undefined;
    return this.#watchPrefix(prefix, call, true, (done, deleted) => {
      const touches = (key: Uint8Array) =>
        sameKey(key, queued.key) || (predecessor !== undefined && sameKey(key, predecessor));
      if (deleted !== undefined && !deleted.some((e) => touches(e.kv.key))) return;
      const mine = store.range({ key: queued.key }).kvs[0];
      if (mine === undefined || mine.createRevision !== queued.createRevision) {
        done(lost());
        return;
      }
      predecessor = lastCreatedBefore(store, prefix, queued.createRevision)?.key;
      if (predecessor === undefined) {
        done(undefined, { ...queued.header, revision: String(store.revision) });
      }
    });
  }

  /**
   * Hands `send` the queue's head (etcd's election leader) now and whenever
   * it changes, a new owner or its owner's new value, until the call is
   * cancelled. Revisions that leave the head alone cost a comparison each.
   */
  observe(
    prefix: Uint8Array,
    call: QueueCall,
    send: (kv: JsonObject, revision: number) => void,
  ): Promise<JsonObject> {
    const store = this.ctx.kv.store;
    let head: KeyValue | undefined;
    return this.#watchPrefix(prefix, call, false, (_done, events) => {
      const seen = head;
      if (events !== undefined && seen !== undefined) {
        if (!events.some((e) => sameKey(e.kv.key, seen.key))) return;
      }
      const next = queueHead(store, prefix);
      head = next;
      if (next === undefined || (seen !== undefined && sameRecord(seen, next))) return;
      send(keyValueMessage(next), store.revision);
    });
  }

  /**
   * Watches `prefix` on this member's store and runs `check` once the
   * store holds everything committed before the call (a ReadIndex; no
   * events then), then with the events of each revision that touches the
   * prefix (deletions only, with `deletesOnly`), until `check` calls `done`
   * or the call is cancelled. Bounded: MAX_QUEUE_WAITERS at once.
   */
  #watchPrefix(
    prefix: Uint8Array,
    call: QueueCall,
    deletesOnly: boolean,
    check: (
      done: (err: Error | undefined, header?: JsonObject) => void,
      events?: readonly KvEvent[],
    ) => void,
  ): Promise<JsonObject> {
    if (this.#waiters >= MAX_QUEUE_WAITERS) return Promise.reject(new TooManyQueueWaitersError());
    this.#waiters++;
    return new Promise<JsonObject>((resolve, reject) => {
      let settled = false;
      let ready = false;
      let watcher: Watcher | undefined;
      const done = (err: Error | undefined, header: JsonObject = {}) => {
        if (settled) return;
        settled = true;
        this.#waiters--;
        watcher?.cancel();
        call.removeListener("cancelled", onCancelled);
        if (err === undefined) resolve(header);
        else reject(err);
      };
      const onCancelled = () => done(new QueueWaitCancelledError());
      const run = (events?: readonly KvEvent[]) => {
        if (settled || !ready) return;
        try {
          check(done, events);
        } catch (err) {
          done(err instanceof Error ? err : new Error(String(err)));
        }
      };
      call.on("cancelled", onCancelled);
      if (call.cancelled) {
        onCancelled();
        return;
      }
      try {
        // Watchers hear a revision while it is applied: look once the apply is over.
        watcher = this.ctx.kv.store.watch(
          { key: prefix, rangeEnd: prefixEnd(prefix), noPut: deletesOnly },
          (response) => queueMicrotask(() => run(response.events)),
          (err) => done(err instanceof Error ? err : new Error(String(err))),
        );
      } catch (err) {
        done(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      // Until then this member may not have applied the write that queued the call.
      this.ctx.kv
        .read(false, () => undefined)
        .then(
          () => {
            ready = true;
            run();
          },
          (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
        );
    });
  }
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

function sameRecord(a: KeyValue, b: KeyValue): boolean {
  return sameKey(a.key, b.key) && a.modRevision === b.modRevision;
}

/** The key under `prefix` created last before `revision`: the one a waiter at `revision` waits on. */
function lastCreatedBefore(
  store: KvStore,
  prefix: Uint8Array,
  revision: number,
): KeyValue | undefined {
  let last: KeyValue | undefined;
  const { kvs } = store.range({ key: prefix, rangeEnd: prefixEnd(prefix), keysOnly: true });
  for (const kv of kvs) {
    if (
      kv.createRevision < revision &&
      (last === undefined || kv.createRevision > last.createRevision)
    ) {
      last = kv;
    }
  }
  return last;
}

/** A base64 field of a request message as bytes ("" when absent). */
export function messageBytes(message: JsonObject, field: string): Uint8Array {
  const value = message[field];
  return typeof value === "string" ? bytes(value) : new Uint8Array(0);
}
