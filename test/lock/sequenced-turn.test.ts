import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type SequenceEntry, turnOf, wouldHoldNow } from "../../src/lock/sequenced/turn.js";

/** A queue of distinct positions, shuffled (backends list entries in key order, not queue order). */
const queues = fc
  .uniqueArray(fc.tuple(fc.bigInt({ min: 1n, max: 10_000n }), fc.boolean()), {
    selector: ([position]) => position,
    minLength: 1,
    maxLength: 12,
  })
  .chain((raw) => fc.shuffledSubarray(raw, { minLength: raw.length, maxLength: raw.length }))
  .map((raw) =>
    raw.map(
      ([position, exclusive]): SequenceEntry => ({ id: `e${position}`, position, exclusive }),
    ),
  );

const byPosition = (entries: readonly SequenceEntry[]) =>
  [...entries].sort((a, b) => (a.position < b.position ? -1 : 1));

describe("sequenced queue turns", () => {
  it("grants a mutex only to the oldest entry; the others wait on their direct predecessor", () => {
    fc.assert(
      fc.property(queues, (entries) => {
        const ordered = byPosition(entries);
        ordered.forEach((mine, index) => {
          const turn = turnOf("mutex", entries, mine);
          if (index === 0) expect(turn).toEqual({ kind: "granted" });
          else expect(turn).toEqual({ kind: "after", predecessor: ordered[index - 1] });
        });
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it("lets readers share until the first writer; a writer waits for everyone ahead", () => {
    fc.assert(
      fc.property(queues, (entries) => {
        const ordered = byPosition(entries);
        const granted = ordered.filter(
          (mine) => turnOf(mine.exclusive ? "write" : "read", entries, mine).kind === "granted",
        );
        const firstWriter = ordered.findIndex((e) => e.exclusive);
        if (firstWriter === 0) expect(granted).toEqual([ordered[0]]);
        else expect(granted).toEqual(ordered.slice(0, firstWriter < 0 ? undefined : firstWriter));
        for (const mine of ordered) {
          const turn = turnOf(mine.exclusive ? "write" : "read", entries, mine);
          if (turn.kind !== "after") continue;
          // The awaited entry is ahead, and a reader only ever waits for a writer.
          expect(turn.predecessor.position < mine.position).toBe(true);
          if (!mine.exclusive) expect(turn.predecessor.exclusive).toBe(true);
        }
      }),
      { seed: 12, numRuns: 300 },
    );
  });

  it("admits the first `permits` entries of a semaphore", () => {
    fc.assert(
      fc.property(queues, fc.integer({ min: 1, max: 5 }), (entries, permits) => {
        const ordered = byPosition(entries);
        ordered.forEach((mine, index) => {
          const turn = turnOf("semaphore", entries, mine, permits);
          expect(turn.kind).toBe(index < permits ? "granted" : "after-any");
        });
        expect(wouldHoldNow("semaphore", entries, permits)).toBe(entries.length < permits);
      }),
      { seed: 13, numRuns: 300 },
    );
  });

  it("reports an entry that is no longer in the queue as gone", () => {
    const entries: SequenceEntry[] = [{ id: "a", position: 5n, exclusive: true }];
    expect(turnOf("mutex", entries, { id: "b", position: 7n })).toEqual({ kind: "gone" });
    expect(wouldHoldNow("mutex", [])).toBe(true);
    expect(wouldHoldNow("mutex", entries)).toBe(false);
    expect(wouldHoldNow("read", [{ id: "r", position: 1n, exclusive: false }])).toBe(true);
  });
});
