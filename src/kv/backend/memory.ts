import { type KeyString, ownedCopy } from "../bytes.js";
import { type KeyRecord, recordSizeBytes } from "../mvcc.js";
import { decodeRequestRow } from "../requests.js";
import type { BackendMeta, LeaseRow, LoadedState, MvccBackend } from "./backend.js";

/**
 * The backend of the simulator and of unit tests: records stay in the key
 * index (values included), and a commit only marks what a reopening would
 * see. Nothing survives the process.
 */
export class MemoryBackend implements MvccBackend {
  readonly kind = "memory" as const;
  private committed: Committed | undefined;
  private staged: Staged = emptyStage();
  private bytes = 0;

  load(): LoadedState | undefined {
    const c = this.committed;
    if (c === undefined) return undefined;
    const records = [...c.records.values()].filter(([, r]) => r.modRevision <= c.meta.revision);
    records.sort(([, a], [, b]) => a.modRevision - b.modRevision || a.subRevision - b.subRevision);
    return {
      meta: c.meta,
      tables: c.tables,
      records,
      requests: [...c.requests]
        .sort(([a], [b]) => a - b)
        .map(([seq, row]) => [seq, decodeRequestRow(row)] as const),
      leases: [...c.leases.values()].sort(([a], [b]) => a - b),
    };
  }

  putRecord(key: KeyString, record: KeyRecord): KeyRecord {
    const owned = { ...record, value: ownedCopy(record.value) };
    this.staged.ops.push({ put: [key, owned] });
    this.bytes += recordSizeBytes(key, owned);
    return owned;
  }

  removeRecords(records: Iterable<KeyRecord>): void {
    for (const r of records) this.staged.ops.push({ remove: revisionKey(r) });
  }

  putTables(tables: Uint8Array): void {
    this.staged.tables = tables;
  }

  putLease(row: LeaseRow): void {
    this.staged.leases.push({ put: row });
  }

  removeLease(id: number): void {
    this.staged.leases.push({ remove: id });
  }

  putRequest(seq: number, row: Uint8Array): void {
    this.staged.requests.push({ put: [seq, row] });
  }

  forgetRequestsBefore(seq: number): void {
    this.staged.requests.push({ forgetBefore: seq });
  }

  commit(meta: BackendMeta): void {
    // Staged operations reach the committed maps only here, in place: what a
    // reopening sees changes a whole commit at a time.
    const base =
      this.staged.cleared || this.committed === undefined
        ? { records: new Map(), requests: new Map(), leases: new Map(), tables: undefined }
        : this.committed;
    const { records, requests, leases } = base;
    for (const op of this.staged.ops) {
      if ("put" in op) records.set(revisionKey(op.put[1]), op.put);
      else {
        const gone = records.get(op.remove);
        if (gone === undefined) continue;
        this.bytes -= recordSizeBytes(gone[0], gone[1]);
        records.delete(op.remove);
      }
    }
    for (const op of this.staged.requests) {
      if ("put" in op) {
        requests.set(op.put[0], op.put[1]);
        continue;
      }
      // The log numbers what it puts upwards, so the map holds them oldest first.
      for (const seq of requests.keys()) {
        if (seq >= op.forgetBefore) break;
        requests.delete(seq);
      }
    }
    for (const op of this.staged.leases) {
      if ("put" in op) leases.set(op.put[0], op.put);
      else leases.delete(op.remove);
    }
    this.committed = { meta, tables: this.staged.tables ?? base.tables, records, requests, leases };
    this.staged = emptyStage();
  }

  clear(): void {
    this.staged = { ...emptyStage(), cleared: true };
    this.bytes = 0;
  }

  sizeBytes(): number {
    return this.bytes;
  }

  async flushed(): Promise<void> {}

  async close(): Promise<void> {}
}

interface Committed {
  readonly meta: BackendMeta;
  readonly tables: Uint8Array | undefined;
  readonly records: Map<string, [KeyString, KeyRecord]>;
  /** By sequence number. */
  readonly requests: Map<number, Uint8Array>;
  readonly leases: Map<number, LeaseRow>;
}

interface Staged {
  ops: ({ put: [KeyString, KeyRecord] } | { remove: string })[];
  requests: ({ put: readonly [number, Uint8Array] } | { forgetBefore: number })[];
  leases: ({ put: LeaseRow } | { remove: number })[];
  tables: Uint8Array | undefined;
  cleared: boolean;
}

function emptyStage(): Staged {
  return { ops: [], requests: [], leases: [], tables: undefined, cleared: false };
}

function revisionKey(r: KeyRecord): string {
  return `${r.modRevision}:${r.subRevision}`;
}
