import { describe, expect, it } from "vitest";
import { Xoshiro128 } from "../../../src/raft/core/prng.js";
import { WalStorage } from "../../../src/raft/storage/wal-storage.js";
import { SimFs } from "./sim-fs.js";
import {
  DIR,
  entry,
  IDENTITY,
  type ModelState,
  matchState,
  observe,
  runWorkload,
} from "./workload.js";

function describeState(s: ModelState): string {
  return JSON.stringify({
    snapshot: s.snapshot.index,
    base: s.base,
    last: s.base.index + s.entries.length,
    terms: s.entries.map((e) => e.term).join(""),
    hardState: s.hardState,
  });
}

describe("WAL crash recovery", () => {
  it("the reference workload runs clean and touches every write path", async () => {
    const fs = new SimFs();
    const run = await runWorkload(fs);
    expect(run.error).toBeUndefined();
    expect(run.ackedStates).toBe(run.issuedStates);
    const reopened = await WalStorage.open(DIR, { ...IDENTITY, fs, segmentMaxBytes: 1024 });
    expect(await observe(reopened)).toEqual(run.model.current);
    expect(reopened.recovery.tornTail).toBeUndefined();
    await reopened.close();
  });

  it("after a crash at every write and sync point, keeps every acknowledged write and nothing invented", async () => {
    const reference = new SimFs();
    await runWorkload(reference);
    const totalOps = reference.opCount;
    expect(totalOps).toBeGreaterThan(100);
    let tornTails = 0;
    let beyondAcked = 0;
    for (let crashAt = 0; crashAt < totalOps; crashAt++) {
      for (const variant of [0, 1]) {
        const random = new Xoshiro128(crashAt * 2 + variant + 1);
        const fs = new SimFs({ crashAtOp: crashAt, random });
        const run = await runWorkload(fs);
        expect(fs.crashed).toBe(true);
        const image = fs.crashImage(random);
        const s = await WalStorage.open(DIR, { ...IDENTITY, fs: image, segmentMaxBytes: 1024 });
        if (s.recovery.tornTail) tornTails++;
        const observed = await observe(s);
        const at = matchState(run.model, observed, run.ackedStates, run.issuedStates);
        if (at < 0) {
          throw new Error(
            `crash at op ${crashAt} (variant ${variant}): recovered ${describeState(observed)} matches no state in ` +
              `[${run.ackedStates}, ${run.issuedStates}]; acked state is ${describeState(run.model.states[run.ackedStates]!)}`,
          );
        }
        if (at > run.ackedStates) beyondAcked++;
        // The recovered storage accepts writes and keeps them.
        const next = entry(s.lastIndex() + 1, Math.max(1, s.term(s.lastIndex())));
        await s.save({ entries: [next] });
        await s.close();
        const again = await WalStorage.open(DIR, { ...IDENTITY, fs: image, segmentMaxBytes: 1024 });
        expect(again.recovery.tornTail).toBeUndefined();
        expect(again.entries(next.index, next.index + 1, 0)).toEqual([next]);
        await again.close();
      }
    }
    // The crash images exercised both torn tails and unacknowledged writes that survived.
    expect(tornTails).toBeGreaterThan(0);
    expect(beyondAcked).toBeGreaterThan(0);
  });

  it("survives a second crash during recovery", async () => {
    const reference = new SimFs();
    await runWorkload(reference);
    const totalOps = reference.opCount;
    let recoveriesCut = 0;
    for (let crashAt = 3; crashAt < totalOps; crashAt += 7) {
      const random = new Xoshiro128(10_000 + crashAt);
      const fs = new SimFs({ crashAtOp: crashAt, random });
      const run = await runWorkload(fs);
      const image = fs.crashImage(random);
      // Count what recovery writes, then crash it half way.
      const probeFs = SimFs.fromFiles(image.files());
      await (
        await WalStorage.open(DIR, { ...IDENTITY, fs: probeFs, segmentMaxBytes: 1024 })
      ).close();
      if (probeFs.opCount === 0) continue;
      const cutFs = SimFs.fromFiles(image.files(), {
        crashAtOp: random.int(probeFs.opCount),
        random,
      });
      await expect(
        WalStorage.open(DIR, { ...IDENTITY, fs: cutFs, segmentMaxBytes: 1024 }),
      ).rejects.toThrow();
      recoveriesCut++;
      const s = await WalStorage.open(DIR, {
        ...IDENTITY,
        fs: cutFs.crashImage(random),
        segmentMaxBytes: 1024,
      });
      const observed = await observe(s);
      expect(
        matchState(run.model, observed, run.ackedStates, run.issuedStates),
      ).toBeGreaterThanOrEqual(0);
      await s.close();
    }
    expect(recoveriesCut).toBeGreaterThan(3);
  });
});
