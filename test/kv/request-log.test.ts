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
