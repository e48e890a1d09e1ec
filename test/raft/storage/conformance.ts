import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LogCompactedError, LogUnavailableError } from "../../../src/raft/core/errors.js";
import type { LogStorage } from "../../../src/raft/core/storage.js";
import type { ConfState, Entry, HardState, Snapshot } from "../../../src/raft/core/types.js";
import { EMPTY_CONF_STATE, entrySize } from "../../../src/raft/core/types.js";
import { CONF, entries, entry } from "./workload.js";

/** Drives one LogStorage implementation through its own write API. */
export interface StorageHarness {
  storage(): LogStorage;
  append(entries: Entry[]): Promise<void>;
  setHardState(hs: HardState): Promise<void>;
  /** Snapshot at `index` (<= commit) and compact the log to it. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<void>;
  /** Replace the whole log with a snapshot from the leader. */
  applySnapshot(snapshot: Snapshot): Promise<void>;
  /** Snapshot data as the storage hands it out. */
  snapshotData(): Promise<Uint8Array>;
  /** Runs before reads are checked; a restarting variant reopens the storage here. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

const ALL = Number.MAX_SAFE_INTEGER;

/**
 * The read-side semantics the Raft core relies on (LogStorage), checked the
 * same way against every implementation.
 */
export function describeLogStorageConformance(
  name: string,
  make: () => Promise<StorageHarness>,
): void {
  describe(`LogStorage conformance: ${name}`, () => {
    let h: StorageHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h.close();
    });

    it("an empty log: first index 1, last index 0, term 0 at index 0, nothing else", async () => {
      await h.settle();
      const s = h.storage();
      expect(s.firstIndex()).toBe(1);
      expect(s.lastIndex()).toBe(0);
      expect(s.term(0)).toBe(0);
      expect(s.entries(1, 1, ALL)).toEqual([]);
      expect(() => s.entries(1, 2, ALL)).toThrow(LogUnavailableError);
      expect(() => s.term(1)).toThrow(LogUnavailableError);
      expect(s.initialState().hardState).toEqual({ term: 0, vote: 0, commit: 0 });
      expect(s.initialState().confState).toEqual(EMPTY_CONF_STATE);
      expect(s.snapshot().metadata.index).toBe(0);
    });

    it("appended entries are read back by index, with terms, within [first, last]", async () => {
      const log = [...entries(1, 2, 1), ...entries(3, 4, 2), entry(5, 3)];
      await h.append(log);
      await h.setHardState({ term: 3, vote: 2, commit: 4 });
      await h.settle();
      const s = h.storage();
      expect(s.firstIndex()).toBe(1);
      expect(s.lastIndex()).toBe(5);
      expect([0, 1, 2, 3, 4, 5].map((i) => s.term(i))).toEqual([0, 1, 1, 2, 2, 3]);
      expect(s.entries(1, 6, ALL)).toEqual(log);
      expect(s.entries(2, 5, ALL)).toEqual(log.slice(1, 4));
      expect(() => s.entries(2, 7, ALL)).toThrow(LogUnavailableError);
      expect(() => s.term(6)).toThrow(LogUnavailableError);
      expect(s.initialState().hardState).toEqual({ term: 3, vote: 2, commit: 4 });
    });

    it("entries() honours maxBytes but always returns at least one entry", async () => {
      const log = entries(1, 6, 1, 100);
      await h.append(log);
      await h.settle();
      const s = h.storage();
      const one = entrySize(log[0]!);
      expect(s.entries(1, 7, 0)).toEqual(log.slice(0, 1));
      expect(s.entries(1, 7, one)).toEqual(log.slice(0, 1));
      expect(s.entries(1, 7, 2 * one)).toEqual(log.slice(0, 2));
      expect(s.entries(1, 7, 3 * one - 1)).toEqual(log.slice(0, 2));
      expect(s.entries(3, 7, ALL)).toEqual(log.slice(2));
    });

    it("a conflicting append replaces the suffix from the first new entry on", async () => {
      await h.append(entries(1, 6, 1));
      await h.setHardState({ term: 1, vote: 1, commit: 2 });
      await h.append(entries(4, 5, 2));
      await h.settle();
      expect(h.storage().lastIndex()).toBe(5);
      expect(h.storage().entries(1, 6, ALL)).toEqual([...entries(1, 3, 1), ...entries(4, 5, 2)]);
      await h.append([entry(3, 3)]);
      await h.settle();
      expect(h.storage().lastIndex()).toBe(3);
      expect(h.storage().term(3)).toBe(3);
      expect(() => h.storage().term(4)).toThrow(LogUnavailableError);
    });

    it("a snapshot compacts the log: reads at or below it fail with LogCompactedError, its term stays readable", async () => {
      await h.append([...entries(1, 4, 1), ...entries(5, 8, 2)]);
      await h.setHardState({ term: 2, vote: 1, commit: 7 });
      const data = new TextEncoder().encode("state at 6");
      await h.createSnapshot(6, CONF, data);
      await h.settle();
      const s = h.storage();
      expect(s.firstIndex()).toBe(7);
      expect(s.lastIndex()).toBe(8);
      expect(s.term(6)).toBe(2);
      expect(() => s.term(5)).toThrow(LogCompactedError);
      expect(() => s.entries(6, 8, ALL)).toThrow(LogCompactedError);
      expect(() => s.entries(1, 3, ALL)).toThrow(LogCompactedError);
      expect(s.entries(7, 9, ALL)).toEqual(entries(7, 8, 2));
      expect(s.snapshot().metadata).toEqual({ index: 6, term: 2, confState: CONF });
      expect(await h.snapshotData()).toEqual(data);
      expect(s.initialState().confState).toEqual(CONF);
      expect(s.initialState().hardState).toEqual({ term: 2, vote: 1, commit: 7 });
    });

    it("appends that the snapshot covers are ignored, partly covered ones add only their tail", async () => {
      await h.append(entries(1, 5, 1));
      await h.setHardState({ term: 1, vote: 1, commit: 5 });
      await h.createSnapshot(4, CONF, new Uint8Array([4]));
      await h.append(entries(2, 3, 1));
      await h.settle();
      expect(h.storage().lastIndex()).toBe(5);
      await h.append(entries(3, 7, 1));
      await h.settle();
      expect(h.storage().firstIndex()).toBe(5);
      expect(h.storage().entries(5, 8, ALL)).toEqual(entries(5, 7, 1));
    });

    it("installing a leader's snapshot replaces the whole log", async () => {
      await h.append(entries(1, 5, 1));
      await h.setHardState({ term: 1, vote: 1, commit: 3 });
      const data = new TextEncoder().encode("leader state");
      await h.applySnapshot({ metadata: { index: 20, term: 4, confState: CONF }, data });
      await h.settle();
      const s = h.storage();
      expect(s.firstIndex()).toBe(21);
      expect(s.lastIndex()).toBe(20);
      expect(s.term(20)).toBe(4);
      expect(() => s.term(19)).toThrow(LogCompactedError);
      expect(() => s.entries(21, 22, ALL)).toThrow(LogUnavailableError);
      expect(s.snapshot().metadata).toEqual({ index: 20, term: 4, confState: CONF });
      expect(await h.snapshotData()).toEqual(data);
      expect(s.initialState().confState).toEqual(CONF);
      await h.append(entries(21, 22, 4));
      await h.settle();
      expect(h.storage().entries(21, 23, ALL)).toEqual(entries(21, 22, 4));
    });
  });
}
