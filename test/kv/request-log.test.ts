import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidKvCommandError } from "../../src/kv/errors.js";
import {
  decodeRequestRow,
  encodeRequestRow,
  type RequestEntry,
  RequestLog,
} from "../../src/kv/requests.js";

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

  it("tells its sink every add and below which number all is forgotten, so a log loaded from the sink goes on as the first", () => {
    const idArb = fc.integer({ min: 0, max: 20 }).map((n) => `id${n}`);
    fc.assert(
      fc.property(
        fc.array(idArb, { maxLength: 120 }),
        fc.array(idArb, { maxLength: 120 }),
        fc.integer({ min: 1, max: 15 }),
        (before, after, maxEntries) => {
          const window = { maxEntries, maxBytes: 1024 * 1024 };
          const rows = new Map<number, RequestEntry>();
          let from = 0;
          const sink = {
            put: (seq: number, row: Uint8Array) => {
              expect(rows.has(seq), `seq ${seq} put twice`).toBe(false);
              expect(seq, "put under a forgotten number").toBeGreaterThanOrEqual(from);
              rows.set(seq, decodeRequestRow(row));
            },
            forgetBefore: (seq: number) => {
              expect(seq, "forgetBefore went back").toBeGreaterThan(from);
              from = seq;
              for (const k of rows.keys()) if (k < seq) rows.delete(k);
            },
          };
          const first = new RequestLog(window);
          first.attach(sink);
          const add = (log: RequestLog, id: string, i: number) =>
            log.add([id, new Uint8Array([i % 256])]);
          const ids = (entries: readonly RequestEntry[]) =>
            entries.map(([id, r]) => `${id}:${r[0]}`);
          const kept = () => [...rows].sort(([a], [b]) => a - b);
          const check = (log: RequestLog) => {
            // The sink holds the oldest remembered entry first, and every
            // later one; besides those, only entries an id added again replaced.
            const held = ids(kept().map(([, e]) => e));
            const remembered = ids(log.entries());
            expect(held[0]).toBe(remembered[0]);
            expect(held.filter((e) => remembered.includes(e))).toEqual(remembered);
            const replaced = held.filter((e) => !remembered.includes(e));
            for (const e of replaced) {
              const id = e.split(":")[0];
              expect(
                remembered.some((r) => r.startsWith(`${id}:`)),
                `${e} kept, not replaced`,
              ).toBe(true);
            }
          };
          for (const [i, id] of before.entries()) add(first, id, i);
          if (before.length > 0) check(first);
          // A restart: loaded from the sink with the numbers it kept them under.
          const loaded = new RequestLog(window);
          for (const [seq, entry] of kept()) loaded.add(entry, seq);
          expect(ids(loaded.entries())).toEqual(ids(first.entries()));
          loaded.attach(sink);
          const steady = new RequestLog(window);
          for (const [i, id] of before.entries()) add(steady, id, i);
          for (const [i, id] of after.entries()) {
            add(loaded, id, before.length + i);
            add(steady, id, before.length + i);
          }
          expect(ids(loaded.entries())).toEqual(ids(steady.entries()));
          if (before.length + after.length > 0) check(loaded);
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

describe("request rows", () => {
  it("give back the entry they were made from, with or without a digest", () => {
    const digest = new Uint8Array(32).map((_, i) => i + 1);
    for (const entry of [
      ["a", new Uint8Array([1, 2, 3])],
      ["id_-09AZ".repeat(8), new Uint8Array(0), digest],
    ] as RequestEntry[]) {
      const decoded = decodeRequestRow(encodeRequestRow(entry));
      expect(decoded.map((part) => (part instanceof Uint8Array ? [...part] : part))).toEqual(
        entry.map((part) => (part instanceof Uint8Array ? [...part] : part)),
      );
    }
  });

  it("refuse a row too short for its id or digest, or of an unknown kind", () => {
    const row = encodeRequestRow(["abcd", new Uint8Array(0), new Uint8Array(32)]);
    for (const bad of [
      new Uint8Array(0),
      row.subarray(0, 1),
      row.subarray(0, 2 + 4 + 31),
      Uint8Array.of(2, ...row.subarray(1)),
    ]) {
      expect(() => decodeRequestRow(bad)).toThrow(InvalidKvCommandError);
    }
  });
});
