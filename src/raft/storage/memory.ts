import {
  type ConfState,
  EMPTY_CONF_STATE,
  EMPTY_HARD_STATE,
  type Entry,
  type HardState,
  invariant,
  LogCompactedError,
  LogUnavailableError,
  type Snapshot,
  type SnapshotMetadata,
} from "../core/index.js";
import { limitSize } from "../core/log.js";
import { EntryType } from "../core/types.js";
import { StaleSnapshotError } from "./errors.js";
import type { NodeStorage, PersistUpdate, SnapshotSource } from "./node-storage.js";

const EMPTY_SNAPSHOT: Snapshot = {
  metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE },
  data: new Uint8Array(0),
};

/**
 * Storage held in memory: what the core has been told is persisted. The
 * simulator uses it as a node's "disk" (a crash keeps exactly what was
 * written here), and unit tests use it directly.
 */
export class MemoryStorage implements NodeStorage {
  private hard: HardState = EMPTY_HARD_STATE;
  private snap: Snapshot = EMPTY_SNAPSHOT;
  /** ents[0] is a placeholder standing for the snapshot's last entry. */
  private ents: Entry[] = [{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hard, confState: this.snap.metadata.confState };
  }

  hardState(): HardState {
    return this.hard;
  }

  setHardState(hs: HardState): void {
    this.hard = hs;
  }

  private get offset(): number {
    return this.ents[0]!.index;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.ents.length - 1;
  }

  term(index: number): number {
    if (index < this.offset) throw new LogCompactedError(index, this.firstIndex());
    if (index > this.lastIndex()) throw new LogUnavailableError(index, this.lastIndex());
    return this.ents[index - this.offset]!.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.offset) throw new LogCompactedError(lo, this.firstIndex());
    if (hi > this.lastIndex() + 1) throw new LogUnavailableError(hi - 1, this.lastIndex());
    return limitSize(this.ents.slice(lo - this.offset, hi - this.offset), maxBytes);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Appends entries, replacing any conflicting suffix (the core decided it is not committed). */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const last = entries[entries.length - 1]!;
    if (last.index <= this.offset) return; // wholly covered by the snapshot
    const skip = Math.max(0, this.offset + 1 - first.index);
    const fresh = entries.slice(skip);
    const start = fresh[0]!.index;
    invariant(
      start <= this.lastIndex() + 1,
      () => `append at ${start} leaves a gap after ${this.lastIndex()}`,
    );
    // Truncate a conflicting suffix in place, then append: no copy of the log.
    this.ents.length = start - this.offset;
    for (const e of fresh) this.ents.push(e);
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    invariant(
      index >= this.snap.metadata.index,
      () => `snapshot ${index} is older than ${this.snap.metadata.index}`,
    );
    this.snap = snapshot;
    this.ents = [
      { term: snapshot.metadata.term, index, type: EntryType.Normal, data: new Uint8Array(0) },
    ];
  }

  /**
   * Records a snapshot of the application state at `index` (<= applied) and
   * discards the log up to it. Bytes are taken at once; a stream is gathered
   * first, while saves may go on. Rejects with StaleSnapshotError when a
   * newer snapshot was installed meanwhile.
   */
  async createSnapshot(
    index: number,
    confState: ConfState,
    data: Uint8Array | AsyncIterable<Uint8Array>,
  ): Promise<Snapshot> {
    if (index <= this.snap.metadata.index)
      throw new StaleSnapshotError(index, this.snap.metadata.index);
    invariant(
      index <= this.lastIndex(),
      () => `snapshot ${index} beyond last index ${this.lastIndex()}`,
    );
    // The term as of the call: saves go on while a stream is gathered.
    const term = this.term(index);
    const bytes = data instanceof Uint8Array ? data : await collect(data);
    // A leader's newer snapshot may have been installed meanwhile (as WalStorage).
    if (index <= this.snap.metadata.index)
      throw new StaleSnapshotError(index, this.snap.metadata.index);
    invariant(this.term(index) === term, () => `entry ${index} changed term while snapshotting`);
    this.snap = { metadata: { index, term, confState }, data: bytes };
    this.compact(index);
    return this.snap;
  }

  /** Discards entries before `index`; `index` stays as the placeholder. */
  compact(index: number): void {
    if (index <= this.offset) return;
    invariant(
      index <= this.lastIndex(),
      () => `compact ${index} beyond last index ${this.lastIndex()}`,
    );
    const at = index - this.offset;
    const kept = this.ents[at]!;
    const placeholder: Entry = {
      term: kept.term,
      index: kept.index,
      type: EntryType.Normal,
      data: new Uint8Array(0),
    };
    this.ents = [placeholder, ...this.ents.slice(at + 1)];
  }

  // ---- NodeStorage: "durable" at once ----

  async save(update: PersistUpdate): Promise<void> {
    if (update.snapshot) this.applySnapshot(update.snapshot);
    if (update.entries) this.append(update.entries);
    if (update.hardState) this.setHardState(update.hardState);
  }

  async receiveSnapshot(
    metadata: SnapshotMetadata,
    data: AsyncIterable<Uint8Array>,
  ): Promise<Snapshot> {
    return { metadata, data: await collect(data) };
  }

  async openSnapshot(): Promise<SnapshotSource> {
    const { metadata, data } = this.snap;
    return {
      metadata,
      chunks: async function* () {
        yield data;
      },
      close: async () => {},
    };
  }

  async close(): Promise<void> {}
}

async function collect(data: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of data) chunks.push(chunk);
  return Buffer.concat(chunks);
}
