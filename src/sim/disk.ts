import type {
  ConfState,
  Entry,
  HardState,
  Snapshot,
  SnapshotMetadata,
} from "../raft/core/index.js";
import type { Random } from "../raft/core/prng.js";
import { MemoryStorage } from "../raft/storage/memory.js";
import type { NodeStorage, PersistUpdate, SnapshotSource } from "../raft/storage/node-storage.js";
import type { SimProcess } from "./process.js";

export interface DiskFaults {
  /** Latency of one write (fsync included), ms; 0 writes at once. */
  writeDelayMs(): number;
  /** Whether a crash during a write keeps a random prefix of it. */
  readonly tornWrites: boolean;
}

/**
 * A server's disk: `durable` is what survives a crash (it outlives every
 * process incarnation). A write becomes durable, and its promise resolves,
 * only after its latency has passed in a running process; a crash before
 * that loses it, or with torn writes keeps a prefix of it, in the order the
 * WAL issues records (snapshot with its base hard state, entries, hard state).
 */
export class SimDisk {
  readonly durable = new MemoryStorage();
  private writing: PersistUpdate | undefined;
  private process: SimProcess | undefined;
  private onPersisted: () => void = () => {};

  constructor(
    private readonly faults: DiskFaults,
    private readonly random: Random,
  ) {}

  /** The storage one process incarnation writes through. */
  mount(process: SimProcess, onPersisted: () => void): NodeStorage {
    this.process = process;
    this.onPersisted = onPersisted;
    this.writing = undefined;
    return new MountedDisk(this, process);
  }

  /** Called when the process dies: a write in flight is lost or torn. */
  crash(): void {
    const update = this.writing;
    this.writing = undefined;
    this.process = undefined;
    if (update === undefined || !this.faults.tornWrites) return;
    const r = this.random;
    if (update.snapshot !== undefined) {
      if (r.float() < 0.5) return;
      // As the WAL installs it: the snapshot's base records the hard state as
      // it was, with commit raised to the snapshot's index (it is committed).
      const index = update.snapshot.metadata.index;
      const before = this.durable.hardState();
      this.durable.applySnapshot(update.snapshot);
      this.durable.setHardState({ ...before, commit: Math.max(before.commit, index) });
    }
    const entries = update.entries ?? [];
    const kept = r.int(entries.length + 1);
    this.durable.append(entries.slice(0, kept));
    if (kept === entries.length && update.hardState !== undefined && r.float() < 0.5) {
      this.durable.setHardState(update.hardState);
    }
  }

  /** @internal */
  write(process: SimProcess, update: PersistUpdate): Promise<void> {
    if (!process.alive || process !== this.process) return new Promise(() => {});
    const delayMs = this.faults.writeDelayMs();
    if (delayMs <= 0) {
      void this.durable.save(update);
      this.onPersisted();
      return Promise.resolve();
    }
    this.writing = update;
    return new Promise((resolve) => {
      process.after(delayMs, () => {
        if (this.writing !== update) return;
        this.writing = undefined;
        void this.durable.save(update);
        this.onPersisted();
        resolve();
      });
    });
  }
}

/** NodeStorage of one incarnation: reads the durable state, writes through the disk's latency. */
class MountedDisk implements NodeStorage {
  constructor(
    private readonly disk: SimDisk,
    private readonly process: SimProcess,
  ) {}

  private get durable(): MemoryStorage {
    return this.disk.durable;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.durable.initialState();
  }
  firstIndex(): number {
    return this.durable.firstIndex();
  }
  lastIndex(): number {
    return this.durable.lastIndex();
  }
  term(index: number): number {
    return this.durable.term(index);
  }
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.durable.entries(lo, hi, maxBytes);
  }
  snapshot(): Snapshot {
    return this.durable.snapshot();
  }
  save(update: PersistUpdate): Promise<void> {
    return this.disk.write(this.process, update);
  }
  /** Taken at once: the simulator does not model the time a snapshot takes to write. */
  createSnapshot(
    index: number,
    confState: ConfState,
    data: Uint8Array | AsyncIterable<Uint8Array>,
  ): Promise<unknown> {
    if (!this.process.alive) return new Promise(() => {});
    return this.durable.createSnapshot(index, confState, data);
  }
  openSnapshot(): Promise<SnapshotSource> {
    return this.durable.openSnapshot();
  }
  receiveSnapshot(metadata: SnapshotMetadata, data: AsyncIterable<Uint8Array>): Promise<Snapshot> {
    return this.durable.receiveSnapshot(metadata, data);
  }
  async close(): Promise<void> {}
}
