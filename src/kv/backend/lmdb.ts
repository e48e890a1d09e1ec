import { statSync } from "node:fs";
import { join } from "node:path";
import { type Database, type DatabaseOptions, open, type RootDatabase } from "lmdb";
import { unpack } from "msgpackr";
import { invariant } from "../../raft/core/errors.js";
import type { KeyString } from "../bytes.js";
import { InvalidKvCommandError } from "../errors.js";
import type { KeyRecord, RecordNumbers } from "../mvcc.js";
import { decodeRequestRow, encodeRequestRow, type RequestEntry } from "../requests.js";
import type { BackendMeta, LeaseRow, LoadedState, MvccBackend } from "./backend.js";
import { RecordBuffers } from "./record-buffers.js";
import {
  decodeRecordValue,
  encodeRecord,
  type RecordHead,
  type RevisionKey,
  recordBytes,
  recordHeadEncoder,
  revisionKeyEncoder,
} from "./record-codec.js";

const META_KEY = "meta";
const TABLES_KEY = "tables";
/** Requests put under a lower number than this are forgotten (see forgetRequestsBefore). */
const REQUESTS_FROM_KEY = "requests-from";
/**
 * Remembered requests, keyed by sequence number, in two tables: each apply
 * adds one to the young table. The old one holds those put before the
 * young one was started, and is emptied in one step once the window has
 * passed all of them; then the two swap. Emptying a table frees its pages
 * without reading them. Forgetting one request per apply instead deleted
 * from the old end of a tree, and every such delete read a page written
 * long before: the kernel then maps the neighbouring pages of the file
 * too, and over a window's turn that kept most of the file resident.
 * Earlier versions kept one table, the first of these.
 */
const REQUEST_LOG_DBS = ["request-log", "request-log-2"] as const;
/**
 * Where earlier versions kept them, keyed by request id: each add and each
 * forget landed on a random page, and every page a transaction touches is
 * copied and written. Moved into REQUEST_LOG_DB when found, then dropped.
 */
const REQUESTS_BY_ID_DB = "requests";

/** A request table's value: written as a request row, read back as its entry. */
type StoredRequest = Uint8Array | RequestEntry;

/** msgpack's fixarray heads of two and three items: how earlier versions wrote each row. */
const MSGPACK_PAIR = 0x92;
const MSGPACK_TRIPLE = 0x93;

/**
 * Request rows as the request log lays them out, written as they are; a
 * row read back is copied out of lmdb-js's reused buffer (whose `length`
 * is the row's size). Rows an earlier version wrote, msgpack arrays of id,
 * result and digest, still load.
 */
const requestRowEncoder = {
  encode: (row: Uint8Array): Uint8Array => row,
  decode: (bytes: Uint8Array): RequestEntry => {
    const row = Uint8Array.prototype.slice.call(bytes, 0, bytes.length);
    if (row[0] === MSGPACK_PAIR || row[0] === MSGPACK_TRIPLE) return unpack(row) as RequestEntry;
    return decodeRequestRow(row);
  },
};
/**
 * Address space reserved for the file (not disk: the file grows as pages are
 * written). Above the largest quota anyone should run with (etcd suggests 8 GiB).
 */
const MAP_BYTES = 64 * 1024 ** 3;
/** How long a measured size is reused; the quota check asks on every write. */
const SIZE_CACHE_MS = 1000;

/**
 * How commits are gathered into LMDB transactions. Each transaction syncs the
 * file (two fsyncs and a write per touched page), so one per apply would
 * double the disk work the WAL already does; as etcd batches its backend
 * commits, a transaction is written at most this often, or sooner once this
 * many writes or bytes wait. Nothing waits for it but `flushed`: reads of
 * what is staged come from memory, and the WAL holds what a crash loses.
 */
export interface LmdbBatchOptions {
  /** Longest a commit waits for its transaction, in ms; 0 writes each commit at once. Default 100. */
  readonly intervalMs?: number;
  /** Writes that start the transaction at once. Default 10,000. */
  readonly maxWrites?: number;
  /** Value bytes that start the transaction at once. Default 16 MiB. */
  readonly maxBytes?: number;
}
const DEFAULT_BATCH = { intervalMs: 100, maxWrites: 10_000, maxBytes: 16 * 1024 * 1024 };

/**
 * The key space on disk, in LMDB (one memory-mapped B+tree file; readers never
 * block the writer). Records are keyed by revision; the key index is rebuilt
 * in memory on open from one ordered scan, as etcd rebuilds its tree index.
 *
 * Commits are gathered (see LmdbBatchOptions) and written together: lmdb-js
 * makes every write issued in the same turn of the event loop one
 * transaction, in issue order. The latest commit's `meta` is written after its
 * data, so any state a crash leaves holds all the data up to its applied index
 * (and maybe some of the next, which `load` trims). Until its transaction
 * lands, a staged value is read from memory.
 */
export class LmdbBackend implements MvccBackend {
  readonly kind = "lmdb" as const;
  readonly recordNumbers: RecordNumbers = {
    holds: (record) => record instanceof StoredRecord && record.backend === this,
    revive: (modRevision, subRevision, createRevision, version, lease) =>
      new StoredRecord(modRevision, subRevision, createRevision, version, lease, this),
  };
  private readonly root: RootDatabase;
  /** Read as heads (see recordHeadEncoder); written as encoded records. */
  private readonly records: Database<RecordHead, RevisionKey>;
  private readonly requestTables: readonly [
    Database<StoredRequest, number>,
    Database<StoredRequest, number>,
  ];
  /** Which of requestTables new requests go to. */
  private youngTable: 0 | 1 = 0;
  /** The highest number in the other (old) table; 0 when it is empty. */
  private oldThrough = 0;
  /** The highest number put so far. */
  private lastRequestPut = 0;
  /** forgetRequestsBefore's last number, staged and then batched as `meta` is. */
  private stagedRequestsFrom: number | undefined;
  private batchRequestsFrom: number | undefined;
  private readonly leases: Database<LeaseRow, number>;
  /** Values of records written but maybe not yet committed, by revision key. */
  private readonly pending = new Map<string, Uint8Array>();
  private staged: (() => Promise<unknown>)[] = [];
  /** The values the staged writes carry, dropped from `pending` once their commit lands. */
  private stagedRecords: [string, Uint8Array][] = [];
  private clearStaged = false;
  /** Committed writes not yet given to lmdb-js, the meta they end with and their values. */
  private batch: (() => Promise<unknown>)[] = [];
  private batchRecords: [string, Uint8Array][] = [];
  private batchMeta: BackendMeta | undefined;
  private batchBytes = 0;
  private clearBatch = false;
  private batchTimer: NodeJS.Timeout | undefined;
  private readonly batchOptions: Required<LmdbBatchOptions>;
  /** Where big records are encoded; see RecordBuffers. */
  private readonly recordBuffers = new RecordBuffers();
  /** Pooled buffers the batch being handed to lmdb-js was encoded into. */
  private lent: Buffer[] = [];
  private lastCommit: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;
  private sizeCache = { atMs: -Infinity, bytes: 0 };

  constructor(
    private readonly path: string,
    batch: LmdbBatchOptions = {},
  ) {
    this.batchOptions = { ...DEFAULT_BATCH, ...batch };
    for (const [name, v] of Object.entries(this.batchOptions)) {
      if (!Number.isSafeInteger(v) || v < 0)
        throw new InvalidKvCommandError(
          `lmdb batch ${name} must be a non-negative integer, got ${v}`,
        );
    }
    // A map reserved once: growing it remaps the file, and each old mapping
    // stays resident while anything still points into it.
    this.root = open({ path, maxDbs: 8, compression: false, mapSize: MAP_BYTES });
    // lmdb-js takes `keyEncoder` and `encoder` on any database; its types list them on the root only.
    const recordOptions = {
      name: "records",
      keyEncoder: revisionKeyEncoder,
      encoder: recordHeadEncoder,
    } as DatabaseOptions & { name: string };
    this.records = this.root.openDB<RecordHead, RevisionKey>(recordOptions);
    const [first, second] = REQUEST_LOG_DBS.map((name) =>
      this.root.openDB<StoredRequest, number>({
        name,
        keyEncoding: "ordered-binary",
        encoder: requestRowEncoder,
      } as DatabaseOptions & { name: string }),
    );
    this.requestTables = [first!, second!];
    this.leases = this.root.openDB({ name: "leases", keyEncoding: "ordered-binary" });
    this.moveRequestsKeyedById();
    this.findRequestTables();
  }

  /** The request table that is not the young one. */
  private get oldTable(): Database<StoredRequest, number> {
    return this.requestTables[this.youngTable === 0 ? 1 : 0];
  }

  /** Which request table is the young one, from the numbers each holds. */
  private findRequestTables(): void {
    const end = (table: Database<StoredRequest, number>, reverse: boolean) =>
      [...table.getKeys({ reverse, limit: 1 })][0];
    const [first, second] = this.requestTables;
    const secondFrom = end(second, false);
    const firstFrom = end(first, false);
    // Two tables hold numbers apart: the young one holds the higher ones.
    this.youngTable =
      secondFrom !== undefined && (firstFrom === undefined || secondFrom > firstFrom) ? 1 : 0;
    this.oldThrough = end(this.oldTable, true) ?? 0;
    this.lastRequestPut = Math.max(end(first, true) ?? 0, end(second, true) ?? 0);
  }

  /**
   * Moves requests an earlier version kept by id into the log keyed by
   * sequence number, in one transaction with the drop of the old table.
   * Their order is kept; they are numbered afresh from 1, in case the
   * older versions' numbering, which restarted from 1 after each restart,
   * gave two of them one number.
   */
  private moveRequestsKeyedById(): void {
    let byId: Database<[number, ...RequestEntry], string> | undefined;
    try {
      byId = this.root.openDB({
        name: REQUESTS_BY_ID_DB,
        keyEncoding: "ordered-binary",
        create: false,
      } as DatabaseOptions & { name: string });
    } catch {
      // lmdb-js throws or answers nothing for a table that is not there.
    }
    if (byId === undefined) return; // never made, or already moved
    const rows = [...byId.getRange({})].map(({ value }) => value);
    // By number, then by id: the order a load of the old table gave.
    rows.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    this.root.transactionSync(() => {
      for (const [i, [, ...entry]] of rows.entries()) {
        this.requestTables[0].putSync(i + 1, encodeRequestRow(entry));
      }
      byId.dropSync();
    });
  }

  load(): LoadedState | undefined {
    const meta = this.root.get(META_KEY) as BackendMeta | undefined;
    if (meta === undefined) return undefined;
    const from = (this.root.get(REQUESTS_FROM_KEY) as number | undefined) ?? 0;
    const requests: (readonly [number, RequestEntry])[] = [];
    // The old table first, each in key order: oldest first. Buffers, not
    // plain arrays: the request log copies them into its own memory.
    for (const table of [this.oldTable, this.requestTables[this.youngTable]]) {
      for (const { key, value } of table.getRange({ start: from })) {
        invariant(Array.isArray(value), "a request table's row decoded to no entry");
        requests.push([key, value]);
      }
    }
    const tables = this.root.get(TABLES_KEY) as Uint8Array | undefined;
    const leases: LeaseRow[] = [];
    for (const { value } of this.leases.getRange({})) leases.push(value);
    return {
      leases,
      meta,
      tables: tables === undefined ? undefined : plain(tables),
      records: this.scanRecords(meta.revision),
      requests,
    };
  }

  /** One ordered pass over the records, read as the store rebuilds its index. */
  private *scanRecords(revision: number): Generator<[KeyString, KeyRecord]> {
    const beyond: RevisionKey[] = [];
    // From the first revision: lmdb-js's default start key is not a RevisionKey.
    for (const { key, value } of this.records.getRange({ start: [0, 0] })) {
      const [modRevision, subRevision] = key;
      if (modRevision > revision) {
        beyond.push(key);
        continue;
      }
      yield [value.key, this.storedRecord(value, modRevision, subRevision)];
    }
    // Written by an apply whose meta did not land: the log applies it again.
    for (const key of beyond) void this.records.remove(key);
  }

  putRecord(key: KeyString, record: KeyRecord): KeyRecord {
    const rk: RevisionKey = [record.modRevision, record.subRevision];
    // The caller's bytes (maybe a view of a log entry, which does not change)
    // are kept until the commit lands, and encoded only when the batch is
    // written: an encoded copy held for a batch interval outlives the young
    // generation, and a big value's would then wait for a full collection.
    const pendingKey = pendingKeyOf(record.modRevision, record.subRevision);
    this.pending.set(pendingKey, record.value);
    this.stagedRecords.push([pendingKey, record.value]);
    // The record encoder writes a record's bytes as they are.
    this.staged.push(() =>
      this.records.put(rk, this.encoded(key, record) as unknown as RecordHead),
    );
    return this.storedRecord(record, record.modRevision, record.subRevision);
  }

  /** A record's bytes for lmdb-js; a big one in a pooled buffer, lent until its batch lands. */
  private encoded(key: KeyString, record: KeyRecord): Buffer {
    const size = recordBytes(key, record.value);
    if (!this.recordBuffers.pools(size)) return encodeRecord(key, record, record.value);
    const out = this.recordBuffers.take(size);
    this.lent.push(out);
    return encodeRecord(key, record, record.value, out);
  }

  removeRecords(records: Iterable<KeyRecord>): void {
    for (const r of records) {
      const rk: RevisionKey = [r.modRevision, r.subRevision];
      this.staged.push(() => this.records.remove(rk));
    }
  }

  putTables(tables: Uint8Array): void {
    this.staged.push(() => this.root.put(TABLES_KEY, tables));
  }

  putLease(row: LeaseRow): void {
    this.staged.push(() => this.leases.put(row[0], row));
  }

  removeLease(id: number): void {
    this.staged.push(() => this.leases.remove(id));
  }

  putRequest(seq: number, row: Uint8Array): void {
    const table = this.requestTables[this.youngTable];
    // The row as it is: lmdb-js reads it when the batch is written.
    this.staged.push(() => table.put(seq, row));
    this.lastRequestPut = Math.max(this.lastRequestPut, seq);
  }

  forgetRequestsBefore(seq: number): void {
    this.stagedRequestsFrom = seq;
    if (this.oldThrough !== 0 && seq > this.oldThrough) {
      const old = this.oldTable;
      this.staged.push(() => old.clearAsync());
      this.oldThrough = 0;
    }
    if (this.oldThrough === 0 && this.lastRequestPut >= seq) {
      // The young table becomes the old one, emptied once the window passes
      // everything put so far; the empty one takes what comes next.
      this.oldThrough = this.lastRequestPut;
      this.youngTable = this.youngTable === 0 ? 1 : 0;
    }
  }

  commit(meta: BackendMeta): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.clearStaged) {
      // Writes still batched would be cleared with everything else.
      this.clearStaged = false;
      this.clearBatch = true;
      this.batch = [];
      this.batchRecords = [];
      this.batchBytes = 0;
      this.batchRequestsFrom = undefined;
    }
    for (const write of this.staged) this.batch.push(write);
    if (this.stagedRequestsFrom !== undefined) this.batchRequestsFrom = this.stagedRequestsFrom;
    this.stagedRequestsFrom = undefined;
    for (const record of this.stagedRecords) {
      this.batchRecords.push(record);
      this.batchBytes += record[1].byteLength;
    }
    this.staged = [];
    this.stagedRecords = [];
    this.batchMeta = meta;
    const { intervalMs, maxWrites, maxBytes } = this.batchOptions;
    if (intervalMs === 0 || this.batch.length >= maxWrites || this.batchBytes >= maxBytes) {
      this.writeBatch();
    } else if (this.batchTimer === undefined) {
      this.batchTimer = setTimeout(() => this.writeBatch(), intervalMs);
      this.batchTimer.unref();
    }
  }

  /** Gives the batched commits to lmdb-js, in one turn: one transaction. */
  private writeBatch(): void {
    if (this.batchTimer !== undefined) clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    const meta = this.batchMeta;
    if (meta === undefined) return;
    if (this.clearBatch) {
      this.clearBatch = false;
      void this.records.clearAsync();
      for (const table of this.requestTables) void table.clearAsync();
      void this.leases.clearAsync();
      void this.root.remove(TABLES_KEY);
      void this.root.remove(REQUESTS_FROM_KEY);
    }
    for (const write of this.batch) void write();
    if (this.batchRequestsFrom !== undefined) {
      void this.root.put(REQUESTS_FROM_KEY, this.batchRequestsFrom);
      this.batchRequestsFrom = undefined;
    }
    const landed = this.root.put(META_KEY, { ...meta });
    // lmdb-js has read every write of the batch once its last one landed.
    const lent = this.lent;
    this.lent = [];
    const values = this.batchRecords;
    this.batch = [];
    this.batchRecords = [];
    this.batchBytes = 0;
    this.batchMeta = undefined;
    this.lastCommit = landed.then(
      () => {
        for (const [k, v] of values) if (this.pending.get(k) === v) this.pending.delete(k);
        this.recordBuffers.give(lent);
      },
      // A failed write thread may not be done with them: they are left to the collector.
      (err: unknown) => {
        this.failure = new InvalidKvCommandError(`kv backend write failed: ${String(err)}`);
      },
    );
  }

  clear(): void {
    this.staged = [];
    this.stagedRecords = [];
    this.pending.clear();
    this.clearStaged = true;
    this.stagedRequestsFrom = undefined;
    this.youngTable = 0;
    this.oldThrough = 0;
    this.lastRequestPut = 0;
  }

  /**
   * Pages in use by the data, the tables and the requests. Not the file's
   * size: LMDB reuses the pages compaction frees but never shrinks its file,
   * and a quota on the file could not be cleared without copying it.
   */
  sizeBytes(): number {
    const now = Date.now();
    if (now - this.sizeCache.atMs >= SIZE_CACHE_MS) {
      let bytes = 0;
      for (const db of [this.root, this.records, ...this.requestTables, this.leases]) {
        const s = db.getStats() as Record<string, number>;
        bytes +=
          ((s["treeBranchPageCount"] ?? 0) +
            (s["treeLeafPageCount"] ?? 0) +
            (s["overflowPages"] ?? 0)) *
          (s["pageSize"] ?? 4096);
      }
      this.sizeCache = { atMs: now, bytes };
    }
    return this.sizeCache.bytes;
  }

  /** LMDB write transactions this file has had, over its life (its last transaction id). */
  get transactions(): number {
    return (this.root.getStats() as { lastTxnId: number }).lastTxnId;
  }

  /** The database file's size on disk, free pages included. */
  fileSizeBytes(): number {
    return statSync(join(this.path, "data.mdb")).size;
  }

  async flushed(): Promise<void> {
    this.writeBatch();
    await this.lastCommit;
    await this.root.flushed;
    if (this.failure !== undefined) throw this.failure;
  }

  async close(): Promise<void> {
    this.writeBatch();
    await this.lastCommit;
    await this.root.close();
  }

  /** A record's value: staged in memory until its commit lands, then from the file. */
  value(modRevision: number, subRevision: number): Uint8Array {
    // Most reads find nothing pending: no key string is built for them.
    const staged =
      this.pending.size === 0
        ? undefined
        : this.pending.get(pendingKeyOf(modRevision, subRevision));
    // A copy, as a value read from the file is: the store's values are plain Uint8Arrays.
    if (staged !== undefined) return new Uint8Array(staged);
    // A buffer lmdb-js reuses, its `length` the record's size: copied out at once.
    const bytes = this.records.getBinaryFast([modRevision, subRevision]);
    if (bytes === undefined) {
      throw new InvalidKvCommandError(
        `kv backend has no record at revision ${modRevision}.${subRevision}: it was compacted or replaced`,
      );
    }
    return decodeRecordValue(bytes, bytes.length);
  }

  private storedRecord(
    fields: { createRevision: number; version: number; lease: number },
    modRevision: number,
    subRevision: number,
  ): KeyRecord {
    return new StoredRecord(
      modRevision,
      subRevision,
      fields.createRevision,
      fields.version,
      fields.lease,
      this,
    );
  }
}

/** A record of the key index whose value stays in the backend until read. */
class StoredRecord implements KeyRecord {
  constructor(
    readonly modRevision: number,
    readonly subRevision: number,
    readonly createRevision: number,
    readonly version: number,
    readonly lease: number,
    readonly backend: LmdbBackend,
  ) {}

  get value(): Uint8Array {
    return this.backend.value(this.modRevision, this.subRevision);
  }
}

function pendingKeyOf(modRevision: number, subRevision: number): string {
  return `${modRevision}.${subRevision}`;
}

/** msgpack hands back Buffers; the store's bytes are plain Uint8Arrays. */
function plain<T>(v: T): T {
  return (v instanceof Uint8Array ? new Uint8Array(v) : v) as T;
}
