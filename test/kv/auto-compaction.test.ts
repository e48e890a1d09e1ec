import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import {
  AutoCompaction,
  type AutoCompactionPolicy,
  KvStore,
  REVISION_COMPACTION_INTERVAL_MS,
  utf8,
} from "../../src/kv/index.js";

const MINUTE_MS = 60_000;

/** A real store written to by hand, a settable role, and a manual clock. */
function harness(policy: AutoCompactionPolicy) {
  const clock = new ManualClock();
  const store = new KvStore();
  let index = 0;
  const st = { role: "leader", failNext: false, operatorFirst: false };
  const proposed: number[] = [];
  const errors: unknown[] = [];
  const loop = new AutoCompaction(
    {
      status: () => ({ role: st.role }),
      revision: () => store.revision,
      compactRevision: () => store.compactRevision,
      compact: async (revision) => {
        proposed.push(revision);
        // An operator's compaction to the current revision lands in the log first.
        if (st.operatorFirst) store.apply(++index, { type: "compact", revision: store.revision });
        if (st.failNext) {
          st.failNext = false;
          throw new Error("proposal timed out");
        }
        const r = store.apply(++index, { type: "compact", revision });
        if (r.type === "error") throw r.error;
        return r;
      },
    },
    { policy, clock, onError: (err) => errors.push(err) },
  );
  const put = (n = 1) => {
    for (let i = 0; i < n; i++)
      store.apply(++index, { type: "put", key: utf8("k"), value: utf8("v") });
  };
  return { clock, store, st, proposed, errors, loop, put };
}

describe("periodic auto-compaction", () => {
  it("compacts to the revision current one retention ago, then every retention", async () => {
    const h = harness({ mode: "periodic", retentionMs: 10 * MINUTE_MS });
    h.put(); // revision 2 when the loop starts
    h.loop.start();
    // A write each minute just after the sample: the sample at minute m is revision m + 1 (m >= 1).
    for (let m = 1; m < 10; m++) {
      await h.clock.advance(MINUTE_MS);
      h.put();
    }
    expect(h.proposed).toEqual([]);
    await h.clock.advance(MINUTE_MS); // minute 10: the sample from minute 0 is one retention old
    expect(h.proposed).toEqual([2]);
    expect(h.store.compactRevision).toBe(2);
    h.put();
    for (let m = 11; m < 20; m++) {
      await h.clock.advance(MINUTE_MS);
      h.put();
    }
    expect(h.proposed).toEqual([2]);
    await h.clock.advance(MINUTE_MS); // minute 20: the revision sampled at minute 10
    expect(h.proposed).toEqual([2, 11]);
    h.loop.stop();
    expect(h.clock.pendingTimers).toBe(0);
  });

  it("does not propose on a follower, nor again for a revision already compacted", async () => {
    const h = harness({ mode: "periodic", retentionMs: 10 * MINUTE_MS });
    h.put();
    h.st.role = "follower";
    h.loop.start();
    await h.clock.advance(15 * MINUTE_MS);
    expect(h.proposed).toEqual([]);
    // Once leading, it uses what it sampled as a follower: the revision of minute 5 was 2.
    h.st.role = "leader";
    await h.clock.advance(MINUTE_MS);
    expect(h.proposed).toEqual([2]);
    // Nothing written since: every later sample is the same revision, never compacted twice.
    await h.clock.advance(30 * MINUTE_MS);
    expect(h.proposed).toEqual([2]);
    h.loop.stop();
  });

  it("retries a failed compaction at the next sample, and takes CompactedError as done", async () => {
    const h = harness({ mode: "periodic", retentionMs: 10 * MINUTE_MS });
    h.put(3);
    h.loop.start();
    h.st.failNext = true;
    await h.clock.advance(10 * MINUTE_MS);
    expect(h.proposed).toEqual([4]);
    expect(h.errors).toHaveLength(1);
    expect(h.store.compactRevision).toBe(0);
    await h.clock.advance(MINUTE_MS);
    expect(h.proposed).toEqual([4, 4]);
    expect(h.store.compactRevision).toBe(4);
    h.loop.stop();
  });
});

describe("revision auto-compaction", () => {
  it("every five minutes compacts to the current revision minus the retention", async () => {
    const h = harness({ mode: "revision", retainRevisions: 10 });
    h.loop.start();
    h.put(5); // revision 6: nothing to compact yet
    await h.clock.advance(REVISION_COMPACTION_INTERVAL_MS);
    expect(h.proposed).toEqual([]);
    h.put(20); // revision 26
    await h.clock.advance(REVISION_COMPACTION_INTERVAL_MS - 1);
    expect(h.proposed).toEqual([]);
    await h.clock.advance(1);
    expect(h.proposed).toEqual([16]);
    expect(h.store.compactRevision).toBe(16);
    // No writes: the same target is not proposed again.
    await h.clock.advance(REVISION_COMPACTION_INTERVAL_MS);
    expect(h.proposed).toEqual([16]);
    h.loop.stop();
  });

  it("takes a compaction someone else made first as done, and proposes none below it", async () => {
    const h = harness({ mode: "revision", retainRevisions: 1 });
    h.loop.start();
    h.put(5); // revision 6
    h.st.operatorFirst = true;
    await h.clock.advance(REVISION_COMPACTION_INTERVAL_MS);
    expect(h.proposed).toEqual([5]);
    expect(h.errors).toEqual([]);
    expect(h.loop.lastCompactedRevision).toBe(5);
    expect(h.store.compactRevision).toBe(6);
    h.put(); // revision 7: its target 6 is the compaction point already
    await h.clock.advance(REVISION_COMPACTION_INTERVAL_MS);
    expect(h.proposed).toEqual([5]);
    h.loop.stop();
  });

  it("refuses a retention that is not a positive integer", () => {
    expect(() => harness({ mode: "revision", retainRevisions: 0 })).toThrow(/retainRevisions/);
    expect(() => harness({ mode: "periodic", retentionMs: 1.5 })).toThrow(/retentionMs/);
  });
});
