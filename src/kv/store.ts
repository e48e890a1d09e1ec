import type { StateMachine } from "../raft/node/ports.js";
import { AlarmTable } from "./alarms.js";
import { AuthTable } from "./auth-table.js";
import type { AuthView } from "./auth-types.js";
import type { LeaseRow, MvccBackend } from "./backend/backend.js";
import { MemoryBackend } from "./backend/memory.js";
import { type KeyString, keyInterval, toKeyBytes, toKeyString } from "./bytes.js";
import { decodeCommand } from "./codec.js";
import { commandDigest } from "./command-digest.js";
import { compareHolds } from "./compare.js";
import {
  CompactedError,
  FutureRevisionError,
  InvalidKvCommandError,
  KeyNotFoundError,
  KvError,
  LeaseNotFoundError,
  LeaseRenewedError,
} from "./errors.js";
import { type LeaseState, LeaseTable } from "./leases.js";
import { decodeMemberCommand, isMemberCommand, MemberTable } from "./members.js";
import {
  isTombstone,
  KeyHistories,
  type KeyRecord,
  recordAt,
  toKeyValue,
  tombstone,
} from "./mvcc.js";
import { collectRange, DEFAULT_MAX_RANGE_BYTES, liveRecords } from "./range.js";
import {
  DEFAULT_REQUEST_WINDOW,
  type RequestEntry,
  RequestLog,
  type RequestWindow,
} from "./requests.js";
import {
  decodeSnapshot,
  encodeSnapshot,
  packSnapshotHeader,
  type SnapshotContents,
  type SnapshotEncodeOptions,
  type SnapshotHeader,
  unpackSnapshotHeader,
} from "./snapshot.js";
import type {
  DeleteRangeCommand,
  DeleteRangeResult,
  KeyValue,
  KvCommand,
  KvEvent,
  KvResult,
  LeaseInfo,
  PutCommand,
  PutResult,
  RangeCommand,
  RangeResult,
  TxnCommand,
  TxnOp,
  TxnOpResult,
  TxnResult,
} from "./types.js";
import { validateCommand, validateWatchOptions } from "./validate.js";
import {
  type WatchCallback,
  type Watcher,
  WatchHub,
  type WatchOptions,
  type WatchRegistration,
} from "./watch.js";

const EMPTY_SNAPSHOT: SnapshotContents = {
  header: { v: 1, revision: 1, compactRevision: 0, appliedIndex: 0, nextLeaseId: 1, leases: [] },
  histories: [],
  requests: [],
};

type PublishedEvent = KvEvent & { keyString: KeyString };

/** Commands that change only keys and revisions; every other one also changes the tables. */
const KEY_COMMANDS: ReadonlySet<KvCommand["type"]> = new Set([
  "put",
  "deleteRange",
  "txn",
  "range",
  "compact",
]);

/** A lease change that `apply` just made, for the leader's expiry clock. */
export interface LeaseApplied {
  readonly kind: "grant" | "keepalive" | "revoke";
  readonly id: number;
  readonly ttlMs: number;
  /** Keep-alives applied to the lease so far. */
  readonly renewals: number;
}

interface WriteBatch {
  readonly revision: number;
  sub: number;
  readonly events: PublishedEvent[];
  /** Key and value bytes the ranges of this txn may still answer with. */
  rangeBytesLeft: number;
}

/** The chosen branch of a txn, with the chosen branches of its nested txns. */
interface TxnPlan {
  readonly succeeded: boolean;
  readonly ops: readonly TxnOp[];
  readonly nested: Map<TxnCommand, TxnPlan>;
}

/**
 * The MVCC key space with etcd v3 semantics. Every change goes through
 * `apply`, which is deterministic: no clock, no randomness, no I/O. Reads and
 * watches are local and never change replicated state.
 */
/** A read-only view of the key histories; see KvStore.historyView. */
export interface HistoryView {
  /** The store's revision when the view was opened. */
  readonly revision: number;
  /** The compaction point when the view was opened. */
  readonly compactRevision: number;
  entries(): Iterable<[KeyString, readonly KeyRecord[]]>;
  close(): void;
}

export class KvStore implements StateMachine<KvResult> {
  protected histories: KeyHistories;
  protected leaseTable = new LeaseTable();
  protected readonly hub = new WatchHub();
  protected currentRevision = 1;
  protected compactedRevision = 0;
  protected lastAppliedIndex = 0;
  protected requests: RequestLog;

  /**
   * `requestWindow` bounds how many request results are remembered for
   * retried writes; it is part of the replicated behaviour, so every replica
   * of a cluster must use the same.
   */
  constructor(
    options: {
      readonly requestWindow?: RequestWindow;
      /**
       * Key and value bytes the ranges of one txn answer with in all (each
       * range still answers at least one key); a range cut short says `more`
       * and, in key order, `nextKey`. Every replica computes a txn's answer,
       * so without it one txn could make each of them copy the whole store.
       */
      readonly maxTxnRangeBytes?: number;
      /**
       * Where records, tables and the applied index are kept (in memory by
       * default). A backend that holds a previous state is loaded from.
       */
      readonly backend?: MvccBackend;
    } = {},
  ) {
    this.requestWindow = options.requestWindow ?? DEFAULT_REQUEST_WINDOW;
    this.requests = new RequestLog(this.requestWindow);
    this.backend = options.backend ?? new MemoryBackend();
    this.histories = new KeyHistories(this.backend.recordNumbers);
    if (this.backend.kind !== "memory") {
      const backend = this.backend;
      this.persisted = () => backend.flushed();
    }
    this.maxTxnRangeBytes = options.maxTxnRangeBytes ?? DEFAULT_MAX_RANGE_BYTES;
    if (!Number.isSafeInteger(this.maxTxnRangeBytes) || this.maxTxnRangeBytes <= 0) {
      throw new InvalidKvCommandError(
        `maxTxnRangeBytes must be a positive integer, got ${this.maxTxnRangeBytes}`,
      );
    }
    this.load();
  }
  private readonly backend: MvccBackend;
  /**
   * On a backend that keeps the state on disk: resolves once everything
   * applied so far is durable there (see StateMachine.persisted). Absent in memory.
   */
  readonly persisted?: () => Promise<void>;
  /** Set by any applied command that changed leases, members, auth or other tables. */
  private tablesDirty = false;
  /** Snapshot streams being read: compaction waits for them to end. */
  private openViews = 0;
  /** The revision a compaction applied while a view was open has yet to drop records to. */
  private deferredCompaction = 0;
  private readonly requestWindow: RequestWindow;
  private readonly maxTxnRangeBytes: number;
  /** Member metadata (name, URLs) replicated through the log; see members.ts. */
  readonly members = new MemberTable();
  /** Users, roles and permissions replicated through the log; src/auth decides with them. */
  readonly #auth = new AuthTable();
  /** Raised alarms (NOSPACE refuses writes that take space); see alarms.ts. */
  readonly #alarms = new AlarmTable();
  private readonly leaseListeners = new Set<(change: LeaseApplied) => void>();

  get revision(): number {
    return this.currentRevision;
  }
  get compactRevision(): number {
    return this.compactedRevision;
  }
  get appliedIndex(): number {
    return this.lastAppliedIndex;
  }
  get keyCount(): number {
    return this.histories.size;
  }
  /** Bytes the backend occupies: what a space quota is checked against. */
  get sizeBytes(): number {
    return this.backend.sizeBytes();
  }
  get leaseCount(): number {
    return this.leaseTable.size;
  }
  get auth(): AuthView {
    return this.#auth;
  }
  get alarms(): Pick<AlarmTable, "list" | "has"> {
    return this.#alarms;
  }

  /**
   * Calls `listener` after each applied lease grant, keepalive or revoke. It
   * only observes: what it throws is ignored and replicated state is the same
   * with or without listeners. Returns a function that removes it.
   */
  onLeaseApplied(listener: (change: LeaseApplied) => void): () => void {
    this.leaseListeners.add(listener);
    return () => this.leaseListeners.delete(listener);
  }

  private leaseApplied(change: LeaseApplied): void {
    for (const listener of this.leaseListeners) {
      try {
        listener(change);
      } catch {
        // An observer must not change what apply returns.
      }
    }
  }

  /**
   * Applies one committed command (or a Raft entry holding an encoded one).
   * A rejected command, malformed bytes included, leaves the store unchanged
   * and comes back as a result of type "error"; apply itself never throws on input.
   */
  apply(entry: {
    readonly index: number;
    readonly term: number;
    readonly data: Uint8Array;
  }): KvResult;
  apply(index: number, command: KvCommand): KvResult;
  apply(
    indexOrEntry: number | { readonly index: number; readonly data: Uint8Array },
    command?: KvCommand,
  ): KvResult {
    const index = typeof indexOrEntry === "number" ? indexOrEntry : indexOrEntry.index;
    if (index > this.lastAppliedIndex) this.lastAppliedIndex = index;
    try {
      return this.applyCommand(indexOrEntry, command);
    } finally {
      this.persist();
    }
  }

  /**
   * The node applied an entry that carries nothing for the store (a new
   * leader's empty entry, a membership change): counted so the applied index
   * a backend keeps is the node's, and a restart skips the entry too.
   */
  advance(index: number): void {
    if (index <= this.lastAppliedIndex) return;
    this.lastAppliedIndex = index;
    this.persist();
  }

  private applyCommand(
    indexOrEntry: number | { readonly index: number; readonly data: Uint8Array },
    command?: KvCommand,
  ): KvResult {
    try {
      if (typeof indexOrEntry !== "number" && isMemberCommand(indexOrEntry.data)) {
        this.tablesDirty = true;
        this.members.set(decodeMemberCommand(indexOrEntry.data));
        return { type: "memberAttributes", revision: this.currentRevision };
      }
      if (typeof indexOrEntry !== "number") return this.execute(decodeCommand(indexOrEntry.data));
      if (command === undefined) throw new InvalidKvCommandError("apply needs a command");
      // Typed callers are validated too: the type system cannot see duplicate keys or bad ids.
      return this.execute(validateCommand(command));
    } catch (error) {
      if (error instanceof KvError) {
        return { type: "error", revision: this.currentRevision, error };
      }
      throw error;
    }
  }

  /**
   * A local read (not linearizable by itself; see ReadIndex). Input is
   * validated. With `maxBytes` the answer's key and value bytes stay within
   * it: past it, `more` is set and `nextKey` says where to continue.
   */
  range(
    request: Omit<RangeCommand, "type"> & { type?: "range" },
    options: { readonly maxBytes?: number } = {},
  ): RangeResult {
    const maxBytes = options.maxBytes;
    if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes <= 0)) {
      throw new InvalidKvCommandError(`range maxBytes must be a positive integer, got ${maxBytes}`);
    }
    return this.rangeValidated(
      validateCommand({ ...request, type: "range" }) as RangeCommand,
      maxBytes,
    );
  }

  private rangeValidated(req: RangeCommand, maxBytes?: number): RangeResult {
    const revision = this.checkReadRevision(req.revision ?? 0, this.currentRevision);
    const iv = keyInterval(req.key, req.rangeEnd);
    const shaped = collectRange(this.histories, iv, revision, req, maxBytes);
    return { type: "range", revision: this.currentRevision, ...shaped };
  }

  leaseTimeToLive(id: number): LeaseInfo {
    validateCommand({ type: "leaseKeepAlive", id });
    const lease = this.leaseTable.require(id);
    return { id, ttlMs: lease.ttlMs, keys: [...lease.keys].sort().map(toKeyBytes) };
  }

  /**
   * Each lease's id, TTL, legacy keep-alives applied so far and checkpointed
   * remaining TTL (when one is set): what a new leader's expiry loop starts from.
   */
  leaseRenewals(): LeaseState[] {
    return this.leaseTable.states();
  }

  /** One lease's replicated state (see leaseRenewals); undefined when it does not exist. */
  leaseState(id: number): LeaseState | undefined {
    return this.leaseTable.state(id);
  }

  leases(): LeaseInfo[] {
    return this.leaseTable.all().map((l) => this.leaseTimeToLive(l.id));
  }

  /**
   * Registers a watcher. History from `startRevision` is replayed before this
   * returns; later revisions are delivered as they are applied.
   */
  watch(options: WatchOptions, callback: WatchCallback, onError?: (e: unknown) => void): Watcher {
    validateWatchOptions(options);
    if (typeof callback !== "function") throw new InvalidKvCommandError("watch needs a callback");
    const start = options.startRevision ?? 0;
    const from = start === 0 ? this.currentRevision + 1 : start;
    // As etcd: the compaction point itself is watchable (etcd's clients resume a
    // compacted watch there), though a deletion at exactly it was compacted away.
    if (from < this.compactedRevision) throw new CompactedError(from, this.compactedRevision);
    const reg = this.hub.add(options, from, callback, onError);
    this.replay(reg, from);
    return { id: reg.id, cancel: () => this.hub.remove(reg.id) };
  }

  /** Tells every watcher the current revision (etcd's progress notification). */
  notifyProgress(): void {
    this.hub.progress(this.currentRevision);
  }

  /**
   * The whole store (history since the compaction point, leases) as a byte
   * stream, as of this call: applies may go on while it is read, and
   * compaction waits until it was read to its end (or closed with `return`).
   */
  snapshot(options: SnapshotEncodeOptions = {}): AsyncIterable<Uint8Array> {
    const revision = this.currentRevision;
    const histories = this.histories;
    const header = this.header();
    const requests = this.requests.entries();
    const close = this.holdCompaction();
    function* recordsUpTo(): Generator<[KeyString, readonly KeyRecord[]]> {
      try {
        for (const [key, h] of histories.entries()) {
          let n = h.length;
          while (n > 0 && h[n - 1]!.modRevision > revision) n--;
          if (n > 0) yield [key, n === h.length ? h.slice() : h.slice(0, n)];
        }
      } finally {
        close();
      }
    }
    const stream = encodeSnapshot({ header, histories: recordsUpTo(), requests }, options);
    return {
      [Symbol.asyncIterator]: () => {
        const it = stream[Symbol.asyncIterator]();
        return {
          next: () => it.next(),
          return: async (value?: unknown) => {
            close();
            return it.return(value as undefined);
          },
        };
      },
    };
  }

  /**
   * Every key's retained history in key order, as of this call, for a reader
   * that takes its time (a hash computed in slices): records written later
   * are past `revision` and the reader skips them; compaction waits until
   * `close` so no record the view can reach is dropped under it.
   */
  historyView(): HistoryView {
    const histories = this.histories;
    return {
      revision: this.currentRevision,
      compactRevision: this.compactedRevision,
      entries: () => histories.entries(),
      close: this.holdCompaction(),
    };
  }

  /** Defers compaction's record removal until the returned function is called (once). */
  private holdCompaction(): () => void {
    this.openViews++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.openViews--;
      if (this.openViews === 0 && this.deferredCompaction > 0) this.compactRecords();
    };
  }

  private header(): SnapshotHeader {
    return {
      v: 1,
      revision: this.currentRevision,
      compactRevision: this.compactedRevision,
      appliedIndex: this.lastAppliedIndex,
      nextLeaseId: this.leaseTable.nextId,
      leases: this.leaseTable
        .all()
        .map((l) =>
          l.remainingMs === undefined
            ? [l.id, l.ttlMs, l.renewals]
            : [l.id, l.ttlMs, l.renewals, l.remainingMs],
        ),
      members: this.members.toWire(),
      auth: this.#auth.toWire(),
      alarms: this.#alarms.toWire(),
    };
  }

  /** Rebuilds the store from what the backend kept, if it kept anything. */
  private load(): void {
    const state = this.backend.load();
    if (state !== undefined) {
      const header =
        state.tables === undefined ? EMPTY_SNAPSHOT.header : unpackSnapshotHeader(state.tables);
      this.install(
        { ...header, ...state.meta, leases: [...state.leases] },
        state.records,
        state.requests,
      );
    }
    this.requests.attach({
      put: (seq, row) => this.backend.putRequest(seq, row),
      forgetBefore: (seq) => this.backend.forgetRequestsBefore(seq),
    });
  }

  /** Commits what the last apply changed to the backend, with the applied index. */
  private persist(): void {
    if (this.tablesDirty) {
      this.tablesDirty = false;
      // Leases are kept one row each (below), so a grant does not rewrite them all.
      this.backend.putTables(packSnapshotHeader({ ...this.header(), leases: [] }));
    }
    for (const id of this.leaseTable.takeChanged()) {
      const lease = this.leaseTable.state(id);
      if (lease === undefined) this.backend.removeLease(id);
      else this.backend.putLease(leaseRow(lease));
    }
    this.backend.commit({
      appliedIndex: this.lastAppliedIndex,
      revision: this.currentRevision,
      compactRevision: this.compactedRevision,
    });
  }

  /** Drops compacted records from the index and the backend, once no snapshot view needs them. */
  private compactRecords(): void {
    const revision = this.deferredCompaction;
    this.deferredCompaction = 0;
    this.backend.removeRecords(this.histories.compact(revision));
  }

  /**
   * Replaces the whole state. Watchers stay registered and catch up from the
   * restored history; one whose next revision was compacted away is cancelled
   * with a CompactedError through its onError.
   */
  async restore(data: AsyncIterable<Uint8Array>): Promise<void> {
    const { header, histories, requests } = (await decodeSnapshot(data)) ?? EMPTY_SNAPSHOT;
    this.backend.clear();
    this.install(
      header,
      (function* () {
        for (const [key, records] of histories) for (const r of records) yield [key, r];
      })(),
      requests.map((entry) => [undefined, entry] as const),
      this.backend,
    );
    this.tablesDirty = true;
    this.persist();
    for (const reg of this.hub.registrations()) {
      if (reg.nextRevision < this.compactedRevision) {
        this.hub.remove(reg.id);
        reg.onError?.(new CompactedError(reg.nextRevision, this.compactedRevision));
      } else {
        this.replay(reg, reg.nextRevision);
      }
    }
  }

  /**
   * Replaces the state with `header` and `records` (each key's in revision
   * order) and `requests` (oldest first, with the sequence number a backend
   * kept each under, or none from a snapshot). With `into`, records and
   * requests are also written to that backend.
   */
  private install(
    header: SnapshotHeader,
    records: Iterable<[KeyString, KeyRecord]>,
    requests: Iterable<readonly [seq: number | undefined, entry: RequestEntry]>,
    into?: MvccBackend,
  ): void {
    const requestLog = new RequestLog(this.requestWindow);
    if (into !== undefined) {
      requestLog.attach({
        put: (seq, row) => into.putRequest(seq, row),
        forgetBefore: (seq) => into.forgetRequestsBefore(seq),
      });
    }
    for (const [seq, entry] of requests) requestLog.add(entry, seq);
    const keys = new KeyHistories(this.backend.recordNumbers);
    const leases = new LeaseTable();
    for (const [id, ttlMs, renewals, remainingMs] of header.leases) {
      leases.grant(id, ttlMs, renewals ?? 0);
      if (remainingMs !== undefined) leases.checkpoint(id, remainingMs);
    }
    leases.nextId = header.nextLeaseId;
    // Rows to write only when restoring into a backend; a load read them from it.
    if (into === undefined) leases.takeChanged();
    // The lease of each key's latest record (a tombstone's is 0): each key's records come in revision order.
    const leased = new Map<KeyString, number>();
    for (const [key, record] of records) {
      keys.append(key, into === undefined ? record : into.putRecord(key, record));
      if (record.lease !== 0) leased.set(key, record.lease);
      else if (leased.size > 0) leased.delete(key);
    }
    for (const [key, lease] of leased) {
      if (leases.get(lease) === undefined) {
        throw new InvalidKvCommandError(`kv snapshot is corrupt: key uses unknown lease ${lease}`);
      }
      leases.attach(key, lease);
    }
    this.histories = keys;
    this.leaseTable = leases;
    this.requests = requestLog;
    this.currentRevision = header.revision;
    this.compactedRevision = header.compactRevision;
    this.lastAppliedIndex = header.appliedIndex;
    this.deferredCompaction = 0;
    this.members.restore(header.members);
    this.#auth.restore(header.auth);
    this.#alarms.restore(header.alarms);
  }

  get watcherCount(): number {
    return this.hub.count;
  }

  /** Delivers retained history from `from` to one watcher, one response per revision. */
  protected replay(reg: WatchRegistration, from: number): void {
    if (from > this.currentRevision) return;
    const options = reg.options;
    const events: (PublishedEvent & { sub: number })[] = [];
    for (const key of this.histories.keysIn(keyInterval(options.key, options.rangeEnd))) {
      const h = this.histories.history(key)!;
      for (let i = 0; i < h.length; i++) {
        const r = h[i]!;
        if (r.modRevision < from) continue;
        const before = h[i - 1];
        const prev =
          before !== undefined && before.modRevision === r.modRevision
            ? prevBefore(key, h, r.modRevision)
            : before === undefined || isTombstone(before)
              ? undefined
              : toKeyValue(key, before);
        events.push(eventFor(key, r, prev));
      }
    }
    events.sort((a, b) => a.kv.modRevision - b.kv.modRevision || a.sub - b.sub);
    let i = 0;
    while (i < events.length) {
      const revision = events[i]!.kv.modRevision;
      let j = i;
      while (j < events.length && events[j]!.kv.modRevision === revision) j++;
      this.hub.deliver(reg, revision, events.slice(i, j));
      i = j;
    }
  }

  private execute(command: KvCommand): KvResult {
    if (!KEY_COMMANDS.has(command.type) && command.type !== "request") this.tablesDirty = true;
    this.#alarms.check(command);
    switch (command.type) {
      case "request": {
        const digest = commandDigest(command.command);
        const first = this.requests.answer(command.id, command.command, digest);
        if (first !== undefined) return first;
        const result = this.execute(command.command);
        this.requests.remember(command.id, digest, result);
        return result;
      }
      case "range":
        return this.rangeValidated(command);
      case "put":
      case "deleteRange":
      case "txn": {
        const txn: TxnCommand =
          command.type === "txn"
            ? command
            : { type: "txn", compare: [], success: [command], failure: [] };
        const plan = this.plan(txn);
        this.precheck(plan, command.type === "put");
        const batch = this.begin();
        const result = this.runTxn(batch, plan);
        this.commit(batch);
        const finished = withRevision(result, this.currentRevision);
        return command.type === "txn" ? finished : finished.responses[0]!;
      }
      case "compact": {
        if (command.revision <= this.compactedRevision) {
          throw new CompactedError(command.revision, this.compactedRevision);
        }
        if (command.revision > this.currentRevision) {
          throw new FutureRevisionError(command.revision, this.currentRevision);
        }
        this.compactedRevision = command.revision;
        // Records at or below it are no longer read; a snapshot being streamed may still need them.
        this.deferredCompaction = command.revision;
        if (this.openViews === 0) this.compactRecords();
        return { type: "compact", revision: this.currentRevision };
      }
      case "leaseGrant": {
        const lease = this.leaseTable.grant(command.id ?? 0, command.ttlMs);
        this.leaseApplied({ kind: "grant", id: lease.id, ttlMs: lease.ttlMs, renewals: 0 });
        return {
          type: "leaseGrant",
          revision: this.currentRevision,
          id: lease.id,
          ttlMs: lease.ttlMs,
        };
      }
      case "leaseRevoke": {
        const lease = this.leaseTable.require(command.id);
        if (command.ifRenewals !== undefined && command.ifRenewals !== lease.renewals) {
          throw new LeaseRenewedError(lease.id);
        }
        const batch = this.begin();
        for (const key of [...lease.keys].sort()) this.deleteKey(batch, key);
        this.leaseTable.remove(command.id);
        this.commit(batch);
        this.leaseApplied({
          kind: "revoke",
          id: lease.id,
          ttlMs: lease.ttlMs,
          renewals: lease.renewals,
        });
        return { type: "leaseRevoke", revision: this.currentRevision, deletedKeys: batch.sub };
      }
      case "alarm":
        return {
          type: "alarm",
          revision: this.currentRevision,
          alarms: this.#alarms.apply(command),
        };
      case "auth": {
        const authRevision = this.#auth.apply(command.action);
        return { type: "auth", revision: this.currentRevision, authRevision };
      }
      case "leaseCheckpoint": {
        for (const [id, remainingMs] of command.checkpoints) {
          this.leaseTable.checkpoint(id, remainingMs);
        }
        return { type: "leaseCheckpoint", revision: this.currentRevision };
      }
      case "leaseKeepAlive": {
        const lease = this.leaseTable.require(command.id);
        lease.renewals++;
        this.leaseTable.markChanged(lease.id);
        this.leaseApplied({
          kind: "keepalive",
          id: lease.id,
          ttlMs: lease.ttlMs,
          renewals: lease.renewals,
        });
        return {
          type: "leaseKeepAlive",
          revision: this.currentRevision,
          id: lease.id,
          ttlMs: lease.ttlMs,
        };
      }
    }
  }

  private checkReadRevision(requested: number, latest: number): number {
    if (requested === 0) return latest;
    if (requested > this.currentRevision) {
      throw new FutureRevisionError(requested, this.currentRevision);
    }
    if (requested < this.compactedRevision) {
      throw new CompactedError(requested, this.compactedRevision);
    }
    return requested;
  }

  /** Every compare, nested ones included, sees the store as it was before the txn (as etcd). */
  private plan(txn: TxnCommand): TxnPlan {
    const succeeded = txn.compare.every((c) =>
      compareHolds(
        c,
        liveRecords(this.histories, keyInterval(c.key, c.rangeEnd), this.currentRevision),
      ),
    );
    const ops = succeeded ? txn.success : txn.failure;
    const nested = new Map<TxnCommand, TxnPlan>();
    for (const op of ops) if (op.type === "txn") nested.set(op, this.plan(op));
    return { succeeded, ops, nested };
  }

  /**
   * Finds every error the chosen path could raise before anything is
   * written, in etcd's order: every put of the path first, then every range.
   * A put inside a txn is refused first for a missing key (ignore_value,
   * ignore_lease), then for a missing lease; a put on its own the other way
   * round (`leaseFirst`), as etcd's two code paths do.
   */
  private precheck(plan: TxnPlan, leaseFirst: boolean): void {
    this.precheckPuts(plan, leaseFirst);
    this.precheckRanges(plan);
  }

  private precheckPuts(plan: TxnPlan, leaseFirst: boolean): void {
    for (const op of plan.ops) {
      if (op.type === "txn") this.precheckPuts(plan.nested.get(op)!, leaseFirst);
      else if (op.type === "put") {
        const lease = op.lease ?? 0;
        const leaseMissing =
          lease !== 0 && !op.ignoreLease && this.leaseTable.get(lease) === undefined;
        if (leaseFirst && leaseMissing) throw new LeaseNotFoundError(lease);
        if ((op.ignoreValue || op.ignoreLease) && this.current(toKeyString(op.key)) === undefined) {
          throw new KeyNotFoundError(toKeyString(op.key));
        }
        if (leaseMissing) throw new LeaseNotFoundError(lease);
      }
    }
  }

  private precheckRanges(plan: TxnPlan): void {
    for (const op of plan.ops) {
      if (op.type === "range") this.checkReadRevision(op.revision ?? 0, this.currentRevision);
      else if (op.type === "txn") this.precheckRanges(plan.nested.get(op)!);
    }
  }

  private runTxn(batch: WriteBatch, plan: TxnPlan): TxnResult {
    const responses = plan.ops.map((op) => this.runOp(batch, plan, op));
    return { type: "txn", revision: 0, succeeded: plan.succeeded, responses };
  }

  /**
   * One op of a txn. Its answer's revision is etcd's: the txn's new revision
   * once the txn has written anything (this op included), the store's
   * revision before the txn until then.
   */
  private runOp(batch: WriteBatch, plan: TxnPlan, op: TxnOp): TxnOpResult {
    if (op.type === "txn") return this.runTxn(batch, plan.nested.get(op)!);
    const result = this.runLeafOp(batch, op);
    return { ...result, revision: batch.sub > 0 ? batch.revision : batch.revision - 1 };
  }

  private runLeafOp(batch: WriteBatch, op: Exclude<TxnOp, TxnCommand>): TxnOpResult {
    if (op.type === "put") return this.put(batch, op);
    if (op.type === "deleteRange") return this.deleteRange(batch, op);
    // Ranges inside a txn see the txn's own earlier writes.
    const at = (op.revision ?? 0) === 0 ? batch.revision : op.revision!;
    const iv = keyInterval(op.key, op.rangeEnd);
    const shaped = collectRange(this.histories, iv, at, op, Math.max(1, batch.rangeBytesLeft));
    for (const kv of shaped.kvs) batch.rangeBytesLeft -= kv.key.byteLength + kv.value.byteLength;
    return { type: "range", revision: 0, ...shaped };
  }

  private put(batch: WriteBatch, op: PutCommand): PutResult {
    const key = toKeyString(op.key);
    const prev = this.current(key);
    const value = op.ignoreValue && prev !== undefined ? prev.value : op.value;
    const lease = op.ignoreLease && prev !== undefined ? prev.lease : (op.lease ?? 0);
    const record: KeyRecord = {
      modRevision: batch.revision,
      subRevision: batch.sub++,
      createRevision: prev?.createRevision ?? batch.revision,
      version: (prev?.version ?? 0) + 1,
      // A view (of the log entry's bytes, most often): the backend keeps its own copy.
      value,
      lease,
    };
    // The value it replaces is read (on LMDB, from disk) only when asked for.
    const prevKv = prev === undefined || !op.prevKv ? undefined : toKeyValue(key, prev);
    const eventPrev = this.hub.wantsPrevKv
      ? this.eventPrev(key, batch, () => prevKv ?? (prev && toKeyValue(key, prev)))
      : undefined;
    this.histories.append(key, this.backend.putRecord(key, record));
    if (prev !== undefined && prev.lease !== lease) this.leaseTable.detach(key, prev.lease);
    this.leaseTable.attach(key, lease);
    batch.events.push({ ...eventFor(key, record, eventPrev), keyString: key });
    return prevKv !== undefined
      ? { type: "put", revision: 0, prevKv }
      : { type: "put", revision: 0 };
  }

  private deleteRange(batch: WriteBatch, op: DeleteRangeCommand): DeleteRangeResult {
    const found = liveRecords(this.histories, keyInterval(op.key, op.rangeEnd), batch.revision);
    const prevKvs = found.map(([key]) => this.deleteKey(batch, key, op.prevKv === true)!);
    return {
      type: "deleteRange",
      revision: 0,
      deleted: found.length,
      prevKvs: op.prevKv ? prevKvs : [],
    };
  }

  /** Deletes a live key; its previous value is read only for `withPrev` or a prev_kv watcher. */
  private deleteKey(batch: WriteBatch, key: KeyString, withPrev = false) {
    const prev = this.current(key);
    if (prev === undefined) return undefined;
    const record = tombstone(batch.revision, batch.sub++);
    const wanted = withPrev || this.hub.wantsPrevKv;
    const prevKv = wanted ? toKeyValue(key, prev) : undefined;
    const eventPrev = wanted ? this.eventPrev(key, batch, () => prevKv) : undefined;
    this.histories.append(key, this.backend.putRecord(key, record));
    this.leaseTable.detach(key, prev.lease);
    batch.events.push({ ...eventFor(key, record, eventPrev), keyString: key });
    return prevKv;
  }

  /**
   * A watch event's prev_kv (call before appending the batch's record): the
   * key as of the revision before the batch's, as etcd gives it. It is the
   * op's own previous record unless the batch already wrote the key.
   */
  private eventPrev(
    key: KeyString,
    batch: WriteBatch,
    prevKv: () => KeyValue | undefined,
  ): KeyValue | undefined {
    const last = this.histories.latest(key);
    if (last === undefined || last.modRevision !== batch.revision) return prevKv();
    const before = this.histories.at(key, batch.revision - 1);
    return before === undefined || isTombstone(before) ? undefined : toKeyValue(key, before);
  }

  /** The key's live record including writes of the batch in progress. */
  private current(key: KeyString): KeyRecord | undefined {
    const last = this.histories.latest(key);
    return last === undefined || isTombstone(last) ? undefined : last;
  }

  private begin(): WriteBatch {
    return {
      revision: this.currentRevision + 1,
      sub: 0,
      events: [],
      rangeBytesLeft: this.maxTxnRangeBytes,
    };
  }

  /** A batch that wrote nothing leaves the revision alone, as etcd does. */
  private commit(batch: WriteBatch): void {
    if (batch.sub === 0) return;
    this.currentRevision = batch.revision;
    this.hub.publish(batch.revision, batch.events);
  }
}

/** The key's live value as of the revision before `revision`, as a watch event's prev_kv. */
function prevBefore(
  key: KeyString,
  history: readonly KeyRecord[],
  revision: number,
): KeyValue | undefined {
  const r = recordAt(history, revision - 1);
  return r === undefined || isTombstone(r) ? undefined : toKeyValue(key, r);
}

function eventFor(
  key: KeyString,
  r: KeyRecord,
  prevKv: ReturnType<typeof toKeyValue> | undefined,
): PublishedEvent & { sub: number } {
  const kv = toKeyValue(key, r);
  const base = {
    type: isTombstone(r) ? ("delete" as const) : ("put" as const),
    kv,
    keyString: key,
  };
  return prevKv === undefined
    ? { ...base, sub: r.subRevision }
    : { ...base, prevKv, sub: r.subRevision };
}

function leaseRow(l: {
  readonly id: number;
  readonly ttlMs: number;
  readonly renewals: number;
  readonly remainingMs?: number;
}): LeaseRow {
  return l.remainingMs === undefined
    ? [l.id, l.ttlMs, l.renewals]
    : [l.id, l.ttlMs, l.renewals, l.remainingMs];
}

/** The txn's revision on it and its nested txns; the other ops keep their own (runOp). */
function withRevision(result: TxnResult, revision: number): TxnResult {
  return {
    ...result,
    revision,
    responses: result.responses.map((r) => (r.type === "txn" ? withRevision(r, revision) : r)),
  };
}
