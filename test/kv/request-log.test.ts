import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type RequestEntry, RequestLog } from "../../src/kv/requests.js";

const SEED = 1207;

/** What the window must hold: ids in the order last added, oldest forgotten first. */
function model(adds: readonly [string, number][], maxEntries: number, maxBytes: number) {
  let kept: [string, number][] = [];
  // Each entry weighs its result bytes (the digest is absent here).
  const weight = () => kept.reduce((sum, [, size]) => sum + size, 0);
  for (const [id, size] of adds) {
    kept = kept.filter(([k]) => k !== id);
    kept.push([id, size]);
    while (kept.length > maxEntries || weight() > maxBytes) kept.shift();
  }
  return kept;
}

describe("RequestLog window", () => {
  it("forgets oldest first by add order, an id added again counting as new, by count and by bytes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 40_000 })), {
          maxLength: 400,
        }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 40_000, max: 200_000 }),
        (raw, maxEntries, maxBytes) => {
          const adds = raw.map(([n, size]): [string, number] => [`id${n}`, size]);
          const log = new RequestLog({ maxEntries, maxBytes });
          for (const [id, size] of adds) log.add([id, new Uint8Array(size).fill(size % 251)]);
          const held = log.entries().map(([id, result]: RequestEntry) => [id, result.byteLength]);
          expect(held).toEqual(model(adds, maxEntries, maxBytes));
          expect(log.size).toBe(held.length);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("tells its sink every add and forget by sequence number, so a log loaded from the sink goes on as the first", () => {
    const idArb = fc.integer({ min: 0, max: 20 }).map((n) => `id${n}`);
    fc.assert(
      fc.property(
        fc.array(idArb, { maxLength: 120 }),
        fc.array(idArb, { maxLength: 120 }),
        fc.integer({ min: 1, max: 15 }),
        (before, after, maxEntries) => {
          const window = { maxEntries, maxBytes: 1024 * 1024 };
          const rows = new Map<number, RequestEntry>();
          const sink = {
            put: (seq: number, entry: RequestEntry) => {
              expect(rows.has(seq), `seq ${seq} put twice`).toBe(false);
              rows.set(seq, entry);
            },
            remove: (seq: number) => {
              expect(rows.delete(seq), `seq ${seq} removed but never put`).toBe(true);
            },
          };
          const first = new RequestLog(window);
          first.attach(sink);
          const add = (log: RequestLog, id: string, i: number) =>
            log.add([id, new Uint8Array([i % 256])]);
          for (const [i, id] of before.entries()) add(first, id, i);
          // What the sink holds, by number, is what the log holds, in its order.
          const kept = () => [...rows].sort(([a], [b]) => a - b).map(([, e]) => e);
          const ids = (entries: RequestEntry[]) => entries.map(([id, r]) => `${id}:${r[0]}`);
          expect(ids(kept())).toEqual(ids(first.entries()));
          // A restart: loaded from the sink with the numbers it kept them under.
          const loaded = new RequestLog(window);
          for (const [seq, entry] of [...rows].sort(([a], [b]) => a - b)) loaded.add(entry, seq);
          loaded.attach(sink);
          const steady = new RequestLog(window);
          for (const [i, id] of before.entries()) add(steady, id, i);
          for (const [i, id] of after.entries()) {
            add(loaded, id, before.length + i);
            add(steady, id, before.length + i);
          }
          expect(ids(loaded.entries())).toEqual(ids(steady.entries()));
          expect(ids(kept())).toEqual(ids(loaded.entries()));
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("refuses an entry loaded under a number not after the last one's", () => {
    const log = new RequestLog();
    log.add(["a", new Uint8Array([1])], 5);
    expect(() => log.add(["b", new Uint8Array([2])], 5)).toThrow(/sequence number 5, not after 5/);
    expect(() => log.add(["b", new Uint8Array([2])], 1.5)).toThrow(/sequence number/);
    log.add(["b", new Uint8Array([2])]);
    expect(log.entries().map(([id]) => id)).toEqual(["a", "b"]);
  });

  it("keeps to the model over a long run, past the point where its add order is compacted", () => {
    const rng = fc.sample(
      fc.tuple(fc.integer({ min: 0, max: 299 }), fc.integer({ min: 1, max: 300 })),
      {
        seed: SEED,
        numRuns: 20_000,
      },
    );
    const adds = rng.map(([n, size]): [string, number] => [`id${n}`, size]);
    const log = new RequestLog({ maxEntries: 100, maxBytes: 20_000 });
    for (const [i, [id, size]] of adds.entries()) {
      log.add([id, new Uint8Array(size)]);
      if (i % 997 === 0 || i === adds.length - 1) {
        const held = log.entries().map(([k, result]) => [k, result.byteLength]);
        expect(held).toEqual(model(adds.slice(0, i + 1), 100, 20_000));
      }
    }
  });
});
