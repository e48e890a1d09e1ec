import { expect } from "vitest";
import type {
  ConfState,
  Entry,
  HardState,
  SnapshotMetadata,
} from "../../../src/raft/core/types.js";
import { EMPTY_CONF_STATE, EMPTY_HARD_STATE, EntryType } from "../../../src/raft/core/types.js";
import type { WalStorageOptions } from "../../../src/raft/storage/options.js";
import { WalStorage } from "../../../src/raft/storage/wal-storage.js";
import type { SimFs } from "./sim-fs.js";

export const DIR = "/data/node-1";
export const IDENTITY = { clusterId: "cluster-a", nodeId: 1 } as const;
export const CONF: ConfState = { ...EMPTY_CONF_STATE, voters: [1, 2, 3] };

const text = new TextEncoder();

export function entry(index: number, term: number, size = 24): Entry {
  const data = new Uint8Array(size);
  const tag = text.encode(`${index}@${term}`);
  data.set(tag.subarray(0, size));
  for (let i = tag.length; i < size; i++) data[i] = (index * 31 + term * 7 + i) & 0xff;
  return { index, term, type: index % 5 === 0 ? EntryType.ConfChange : EntryType.Normal, data };
}

export function entries(from: number, to: number, term: number, size?: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term, size));
  return out;
}

/** The state storage must hold after some prefix of the records written. */
export interface ModelState {
  readonly snapshot: SnapshotMetadata;
  readonly snapshotData: Uint8Array;
  readonly base: { index: number; term: number };
  readonly entries: readonly Entry[];
  readonly hardState: HardState;
}

export const EMPTY_MODEL: ModelState = {
  snapshot: { index: 0, term: 0, confState: EMPTY_CONF_STATE },
  snapshotData: new Uint8Array(0),
  base: { index: 0, term: 0 },
  entries: [],
  hardState: EMPTY_HARD_STATE,
};

function lastIndex(s: ModelState): number {
  return s.base.index + s.entries.length;
}

function termAt(s: ModelState, index: number): number {
  return index === s.base.index ? s.base.term : s.entries[index - s.base.index - 1]!.term;
}

/**
 * The expected effect of every operation, one state per record the
 * storage writes (snapshot install, truncation, entries, hard state): a
 * crash may leave any prefix of the records, but never less than every
 * acknowledged operation wrote.
 */
export class Model {
  readonly states: ModelState[] = [EMPTY_MODEL];

  get current(): ModelState {
    return this.states[this.states.length - 1]!;
  }

  private push(s: ModelState): void {
    this.states.push(s);
  }

  save(req: {
    snapshot?: { metadata: SnapshotMetadata; data: Uint8Array };
    entries?: Entry[];
    hardState?: HardState;
  }): void {
    if (req.snapshot) {
      const m = req.snapshot.metadata;
      const cur = this.current;
      this.push({
        snapshot: m,
        snapshotData: req.snapshot.data,
        base: { index: m.index, term: m.term },
        entries: [],
        hardState: { ...cur.hardState, commit: Math.max(cur.hardState.commit, m.index) },
      });
    }
    const es = req.entries ?? [];
    if (es.length > 0) {
      const cur = this.current;
      const first = es[0]!.index;
      let kept = cur.entries;
      if (first <= lastIndex(cur)) {
        kept = cur.entries.slice(0, first - cur.base.index - 1);
        this.push({ ...cur, entries: kept });
      }
      this.push({ ...this.current, entries: [...kept, ...es] });
    }
    if (req.hardState) this.push({ ...this.current, hardState: req.hardState });
  }

  /** A snapshot at meta.index, the log compacted to `keepFrom` - 1 (catch-up entries kept). */
  createSnapshot(meta: SnapshotMetadata, data: Uint8Array, catchUpEntries = 0): void {
    const cur = this.current;
    const baseIndex = Math.max(cur.base.index, meta.index - catchUpEntries);
    this.push({
      ...this.compacted(cur, baseIndex),
      snapshot: meta,
      snapshotData: data,
    });
  }

  compact(index: number): void {
    this.push(this.compacted(this.current, index));
  }

  private compacted(cur: ModelState, baseIndex: number): ModelState {
    return {
      ...cur,
      base: { index: baseIndex, term: termAt(cur, baseIndex) },
      entries: cur.entries.slice(baseIndex - cur.base.index),
    };
  }
}

/** Reads everything a recovered storage holds, in the model's shape. */
export async function observe(s: WalStorage): Promise<ModelState> {
  const reader = await s.openSnapshot();
  const snapshotData = await reader.readAll();
  await reader.close();
  // The core's view (snapshot(), data read lazily) must agree with the streamed one.
  const handedOut = s.snapshot();
  expect(handedOut.metadata).toEqual(s.snapshotMetadata());
  expect(Buffer.from(handedOut.data).equals(snapshotData)).toBe(true);
  const first = s.firstIndex();
  const last = s.lastIndex();
  return {
    snapshot: s.snapshotMetadata(),
    snapshotData,
    base: { index: first - 1, term: s.term(first - 1) },
    entries: last >= first ? s.entries(first, last + 1, Number.MAX_SAFE_INTEGER) : [],
    hardState: s.hardState(),
  };
}

/**
 * Equal, except that the observed commit index may lag the model's: a save
 * that only moves the commit index is not fsynced (it can be learned again
 * from the leader), so a crash may lose it — but never invent a higher one.
 */
function sameState(a: ModelState, b: ModelState): boolean {
  try {
    const lagging =
      a.hardState !== undefined &&
      b.hardState !== undefined &&
      b.hardState.commit <= a.hardState.commit;
    expect(a).toEqual(
      lagging ? { ...b, hardState: { ...b.hardState, commit: a.hardState.commit } } : b,
    );
    return true;
  } catch {
    return false;
  }
}

/** Index of a model state equal to `observed` in [from, to], or -1. */
export function matchState(model: Model, observed: ModelState, from: number, to: number): number {
  for (let i = to; i >= from; i--) if (sameState(model.states[i]!, observed)) return i;
  return -1;
}

export interface WorkloadRun {
  readonly model: Model;
  /** Model states covered by operations whose promise resolved. */
  ackedStates: number;
  /** Model states of every operation issued. */
  issuedStates: number;
  error: unknown;
}

/**
 * A fixed sequence of storage operations covering every write path: fresh
 * directory, concurrent appends (group commit), hard state changes, a
 * conflicting suffix, segment rotation, snapshots from bytes and from a
 * stream, an in-band snapshot install, a staged (streamed) install. Stops
 * at the first failure (a crash of the simulated file system).
 */
export const CATCH_UP_ENTRIES = 3;

export async function runWorkload(
  fs: SimFs,
  segmentMaxBytes = 1024,
  extra: Partial<WalStorageOptions> = {},
  dir = DIR,
): Promise<WorkloadRun> {
  const model = new Model();
  const run: WorkloadRun = { model, ackedStates: 0, issuedStates: 0, error: undefined };
  let storage: WalStorage | undefined;
  const issue = (op: () => Promise<unknown>, record: () => void): Promise<void> => {
    const p = op();
    record();
    const statesAfter = model.states.length - 1;
    run.issuedStates = statesAfter;
    return p.then(() => {
      run.ackedStates = Math.max(run.ackedStates, statesAfter);
    });
  };
  const save = (req: Parameters<WalStorage["save"]>[0] & Parameters<Model["save"]>[0]) =>
    issue(
      () => storage!.save(req),
      () => model.save(req),
    );
  try {
    storage = await WalStorage.open(dir, {
      ...IDENTITY,
      fs,
      segmentMaxBytes,
      snapshotCatchUpEntries: CATCH_UP_ENTRIES,
      ...extra,
    });
    const s = storage;
    await save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 0, commit: 3 } });
    await Promise.all([
      save({ entries: entries(4, 5, 1) }),
      save({ entries: entries(6, 6, 1) }),
      save({ hardState: { term: 1, vote: 0, commit: 5 } }),
    ]);
    await save({ hardState: { term: 2, vote: 1, commit: 5 } });
    await save({ entries: entries(7, 9, 2) });
    // A new leader replaces the uncommitted suffix 6..9.
    await save({ entries: entries(6, 8, 3), hardState: { term: 3, vote: 2, commit: 6 } });
    const burst: Promise<void>[] = [];
    for (let i = 9; i <= 26; i += 2) burst.push(save({ entries: entries(i, i + 1, 3, 60) }));
    await Promise.all(burst);
    await save({ hardState: { term: 3, vote: 2, commit: 20 } });
    const snapA = text.encode("state machine at 12");
    await issue(
      () => s.createSnapshot(12, CONF, snapA),
      () => model.createSnapshot({ index: 12, term: 3, confState: CONF }, snapA, CATCH_UP_ENTRIES),
    );
    await save({ entries: entries(27, 30, 3), hardState: { term: 3, vote: 2, commit: 28 } });
    const chunks = [text.encode("state "), text.encode("machine "), text.encode("at 25")];
    async function* stream() {
      for (const c of chunks) yield c;
    }
    await issue(
      () => s.createSnapshot(25, CONF, stream()),
      () =>
        model.createSnapshot(
          { index: 25, term: 3, confState: CONF },
          text.encode("state machine at 25"),
          CATCH_UP_ENTRIES,
        ),
    );
    // The catch-up entries are no longer needed.
    await issue(
      () => s.compact(25),
      () => model.compact(25),
    );
    // A leader's in-band snapshot far ahead of this log.
    const leaderSnap = {
      metadata: { index: 40, term: 4, confState: CONF },
      data: text.encode("leader state at 40"),
    };
    await save({
      snapshot: leaderSnap,
      entries: entries(41, 42, 4),
      hardState: { term: 4, vote: 0, commit: 41 },
    });
    // A streamed snapshot: staged first, installed by the Ready that carries it.
    const streamedMeta = { index: 50, term: 5, confState: CONF };
    const streamedData = text.encode("leader state at 50, streamed");
    const staged = await s.receiveSnapshot(streamedMeta, [
      streamedData.subarray(0, 10),
      streamedData.subarray(10),
    ]);
    const rest = { entries: entries(51, 52, 5), hardState: { term: 5, vote: 0, commit: 51 } };
    await issue(
      () => s.save({ snapshot: staged, ...rest }),
      () => model.save({ snapshot: { metadata: streamedMeta, data: streamedData }, ...rest }),
    );
    await Promise.all([
      save({ entries: entries(53, 60, 5, 80) }),
      save({ entries: entries(61, 61, 5), hardState: { term: 5, vote: 0, commit: 60 } }),
    ]);
    await s.close();
  } catch (err) {
    run.error = err;
  }
  return run;
}
