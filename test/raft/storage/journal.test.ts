import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../../../src/raft/core/prng.js";
import { StorageCorruptionError } from "../../../src/raft/storage/errors.js";
import {
  encodeJournalRecord,
  type JournalRecovery,
  SharedJournal,
} from "../../../src/raft/storage/journal.js";
import { WalStorage } from "../../../src/raft/storage/wal-storage.js";
import { SimFs } from "./sim-fs.js";
import { DIR, entries, IDENTITY, matchState, observe, runWorkload } from "./workload.js";

const JOURNAL = "/data/journal";
const SEGMENT_MAX = 1024;
const open = (fs: SimFs, dir = DIR) =>
  WalStorage.open(dir, { ...IDENTITY, fs, segmentMaxBytes: SEGMENT_MAX });
const recover = (fs: SimFs, dirs: readonly string[] = [DIR]): Promise<JournalRecovery> =>
  SharedJournal.recover(fs, JOURNAL, async (stream) =>
    dirs.includes(stream) ? stream : undefined,
  );

/** The reference workload on one WAL attached to a journal (stream name: its dir). */
async function journalled(fs: SimFs, maxBytes = 1 << 20, dirs: readonly string[] = [DIR]) {
  let journal: SharedJournal | undefined;
  try {
    journal = await SharedJournal.open(fs, JOURNAL, { maxBytes });
  } catch (err) {
    return { runs: [], journal, error: err };
  }
  const j = journal;
  const runs = await Promise.all(
    dirs.map((dir) =>
      runWorkload(fs, SEGMENT_MAX, { journal: { attach: (m) => j.attach(dir, m) } }, dir),
    ),
  );
  return { runs, journal, error: undefined };
}

describe("shared journal", () => {
  it("makes a WAL's appends durable without syncing its segments", async () => {
    const fs = new SimFs();
    const { runs, journal } = await journalled(fs);
    const run = runs[0]!;
    expect(run.error).toBeUndefined();
    expect(run.ackedStates).toBe(run.issuedStates);
    expect(journal!.stats.flushes).toBeGreaterThan(0);
    const reopened = await open(fs);
    expect(await observe(reopened)).toEqual(run.model.current);
    await reopened.close();
  });

  it("batches the fsyncs of many WALs: one journal flush serves appends of several", async () => {
    const fs = new SimFs();
    const dirs = ["/data/g1", "/data/g2", "/data/g3"];
    const { runs, journal } = await journalled(fs, 1 << 20, dirs);
    for (const run of runs) expect(run.error).toBeUndefined();
    const s = journal!.stats;
    expect(s.records).toBeGreaterThan(s.flushes);
  });

  it("after a crash at every write and sync point, recovery keeps every acknowledged write", async () => {
    const reference = new SimFs();
    await journalled(reference);
    const totalOps = reference.opCount;
    expect(totalOps).toBeGreaterThan(50);
    let repaired = 0;
    let lostWithoutJournal = 0;
    for (let crashAt = 0; crashAt < totalOps; crashAt++) {
      for (const variant of [0, 1]) {
        const random = new Xoshiro128(crashAt * 2 + variant + 7);
        const fs = new SimFs({ crashAtOp: crashAt, random });
        const { runs } = await journalled(fs);
        expect(fs.crashed).toBe(true);
        const image = fs.crashImage(random);
        const run = runs[0];
        // The same image opened without replaying the journal: what the journal saves.
        if (run !== undefined) {
          const bare = await open(SimFs.fromFiles(image.files()));
          const at = matchState(run.model, await observe(bare), run.ackedStates, run.issuedStates);
          if (at < 0) lostWithoutJournal++;
          await bare.close();
        }
        const report = await recover(image);
        if (report.segmentsRepaired > 0) repaired++;
        const s = await open(image);
        const observed = await observe(s);
        if (run !== undefined) {
          const at = matchState(run.model, observed, run.ackedStates, run.issuedStates);
          if (at < 0) {
            throw new Error(
              `crash at op ${crashAt} (variant ${variant}): recovered state matches none in [${run.ackedStates}, ${run.issuedStates}] (repair ${JSON.stringify(report)})`,
            );
          }
        }
        // The recovered WAL takes a new journal and keeps writing.
        const journal = await SharedJournal.open(image, JOURNAL);
        await s.close();
        await journal.close();
      }
    }
    expect(repaired).toBeGreaterThan(0);
    // Without the journal, acknowledged writes are lost at many crash points.
    expect(lostWithoutJournal).toBeGreaterThan(0);
  });

  it("with several WALs and a small journal (new files, checkpoints), crashes keep every acknowledged write", async () => {
    const dirs = ["/data/g1", "/data/g2", "/data/g3"];
    const reference = new SimFs();
    const ref = await journalled(reference, 2048, dirs);
    expect(ref.journal!.stats.checkpoints).toBeGreaterThan(0);
    const totalOps = reference.opCount;
    for (let crashAt = 1; crashAt < totalOps; crashAt += 3) {
      const random = new Xoshiro128(50_000 + crashAt);
      const fs = new SimFs({ crashAtOp: crashAt, random });
      const { runs } = await journalled(fs, 2048, dirs);
      const image = fs.crashImage(random);
      await recover(image, dirs);
      for (const [i, run] of runs.entries()) {
        const s = await open(image, dirs[i]);
        const at = matchState(run.model, await observe(s), run.ackedStates, run.issuedStates);
        expect(at, `crash at op ${crashAt}, ${dirs[i]}`).toBeGreaterThanOrEqual(0);
        await s.close();
      }
    }
  });

  it("survives a crash during its own recovery", async () => {
    const reference = new SimFs();
    await journalled(reference);
    const totalOps = reference.opCount;
    let cut = 0;
    for (let crashAt = 5; crashAt < totalOps; crashAt += 5) {
      const random = new Xoshiro128(90_000 + crashAt);
      const fs = new SimFs({ crashAtOp: crashAt, random });
      const { runs } = await journalled(fs);
      const run = runs[0];
      const image = fs.crashImage(random);
      const probe = SimFs.fromFiles(image.files());
      await recover(probe);
      if (probe.opCount === 0 || run === undefined) continue;
      const cutFs = SimFs.fromFiles(image.files(), {
        crashAtOp: random.int(probe.opCount),
        random,
      });
      await expect(recover(cutFs)).rejects.toThrow();
      cut++;
      const again = cutFs.crashImage(random);
      await recover(again);
      const s = await open(again);
      const at = matchState(run.model, await observe(s), run.ackedStates, run.issuedStates);
      expect(at, `crash at op ${crashAt}`).toBeGreaterThanOrEqual(0);
      await s.close();
    }
    expect(cut).toBeGreaterThan(0);
  });

  it("skips streams that are gone and cuts a torn last record", async () => {
    const fs = new SimFs();
    await fs.mkdirp(JOURNAL);
    const bytes = encodeJournalRecord("/gone", 1, 64, [new Uint8Array(16).fill(7)]);
    const file = await fs.openWritable(`${JOURNAL}/journal-0000000000000001.log`, "create");
    await file.append(bytes);
    await file.append(bytes.subarray(0, bytes.length - 5));
    await file.datasync();
    await file.close();
    await fs.syncDir(JOURNAL);
    const report = await recover(fs, []);
    expect(report).toMatchObject({ files: 1, records: 1, recordsSkipped: 1, segmentsRepaired: 0 });
    expect(report.tornTail).toMatch(/journal-0000000000000001\.log at/);
    // The journal is empty afterwards: a new one opens.
    await (await SharedJournal.open(fs, JOURNAL)).close();
  });

  it("refuses a damaged record before the newest file", async () => {
    const fs = new SimFs();
    await fs.mkdirp(JOURNAL);
    const good = encodeJournalRecord(DIR, 1, 64, [new Uint8Array(8)]);
    const bad = good.slice();
    bad[bad.length - 9] = (bad[bad.length - 9]! + 1) & 0xff;
    for (const [name, content] of [
      ["journal-0000000000000001.log", bad],
      ["journal-0000000000000002.log", good],
    ] as const) {
      const f = await fs.openWritable(`${JOURNAL}/${name}`, "create");
      await f.append(content);
      await f.datasync();
      await f.close();
    }
    await fs.syncDir(JOURNAL);
    await expect(recover(fs, [])).rejects.toBeInstanceOf(StorageCorruptionError);
  });

  it("a journalled WAL keeps accepting writes after close and reopen through recovery", async () => {
    const fs = new SimFs();
    const journal = await SharedJournal.open(fs, JOURNAL);
    const s = await WalStorage.open(DIR, {
      ...IDENTITY,
      fs,
      segmentMaxBytes: SEGMENT_MAX,
      journal: { attach: (m) => journal.attach(DIR, m) },
    });
    await s.save({ entries: entries(1, 40, 1, 50), hardState: { term: 1, vote: 1, commit: 40 } });
    expect(s.stats().recordSyncs).toBe(0);
    await s.close();
    await journal.close();
    // Every WAL closed (synced its segment) before the journal: nothing is left to replay.
    expect(await recover(fs)).toMatchObject({ files: 0, records: 0 });
    const again = await open(fs);
    expect(again.lastIndex()).toBe(40);
    await again.close();
  });
});
