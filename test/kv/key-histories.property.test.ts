import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KeyHistories, type KeyRecord, type RecordNumbers } from "../../src/kv/mvcc.js";

const SEED = 20261207;

/** Records of one made-up backend: what the numbers bring back is a record of the same kind. */
class Numbered implements KeyRecord {
  readonly value = new Uint8Array(0);
  constructor(
    readonly modRevision: number,
    readonly subRevision: number,
    readonly createRevision: number,
    readonly version: number,
    readonly lease: number,
  ) {}
}

const numbers: RecordNumbers = {
  holds: (r) => r instanceof Numbered,
  revive: (...fields) => new Numbered(...fields),
};

const fields = (r: KeyRecord | undefined) =>
  r === undefined
    ? undefined
    : [r.modRevision, r.subRevision, r.createRevision, r.version, r.lease];

type Op =
  | { type: "write"; key: number; delete: boolean; lease: number; subs: number }
  | { type: "compact"; back: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      type: fc.constant("write" as const),
      key: fc.integer({ min: 0, max: 5 }),
      delete: fc.boolean(),
      // Leases past 2^31 and revisions past 2^32 must come back exactly.
      lease: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 9 }), fc.constant(2 ** 52 + 1)),
      subs: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant("compact" as const),
      back: fc.integer({ min: 0, max: 40 }),
    }),
  },
);

describe("KeyHistories holding older records as numbers", () => {
  it("answers every question as the histories of objects do, through writes, deletions and compactions", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 150 }), fc.boolean(), (ops, farRevisions) => {
        const packed = new KeyHistories(numbers);
        const plain = new KeyHistories();
        let revision = farRevisions ? 2 ** 32 : 1;
        let compacted = 0;
        const latest = new Map<string, KeyRecord>();
        for (const op of ops) {
          if (op.type === "compact") {
            const to = Math.max(compacted, revision - op.back);
            compacted = to;
            const a = packed.compact(to).map(fields);
            const b = plain.compact(to).map(fields);
            expect(a).toEqual(b);
            continue;
          }
          revision++;
          // Some writes put several sub-revisions of one key in one revision (a txn).
          for (let sub = 0; sub < op.subs; sub++) {
            const key = `k${op.key}`;
            const prev = latest.get(key);
            const live = prev !== undefined && prev.version !== 0;
            const record = op.delete
              ? new Numbered(revision, sub, 0, 0, 0)
              : new Numbered(
                  revision,
                  sub,
                  live ? prev.createRevision : revision,
                  live ? prev.version + 1 : 1,
                  op.lease,
                );
            latest.set(key, record);
            packed.append(key, record);
            plain.append(key, record);
          }
        }
        expect(packed.size).toBe(plain.size);
        const first = farRevisions ? 2 ** 32 : 1;
        for (let k = 0; k <= 5; k++) {
          const key = `k${k}`;
          expect(fields(packed.latest(key))).toEqual(fields(plain.latest(key)));
          expect(packed.history(key)?.map(fields)).toEqual(plain.history(key)?.map(fields));
          for (let at = first - 1; at <= revision + 1; at++) {
            expect(fields(packed.at(key, at)), `${key} at ${at}`).toEqual(
              fields(plain.at(key, at)),
            );
          }
        }
        const all = (h: KeyHistories) => [...h.entries()].map(([k, rs]) => [k, rs.map(fields)]);
        expect(all(packed)).toEqual(all(plain));
        expect(packed.keysIn({ start: "k", end: null })).toEqual(
          plain.keysIn({ start: "k", end: null }),
        );
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("holds thousands of one-record keys as numbers, through growth, deletions, compaction and reuse", () => {
    const packed = new KeyHistories(numbers);
    const plain = new KeyHistories();
    const put = (key: string, r: KeyRecord) => {
      packed.append(key, r);
      plain.append(key, r);
    };
    const key = (i: number) => `k${String(i).padStart(5, "0")}`;
    let revision = 0;
    for (let i = 0; i < 3_000; i++) put(key(i), new Numbered(++revision, 0, revision, 1, i));
    // Every third key deleted, then compacted away: its slots are freed...
    for (let i = 0; i < 3_000; i += 3) put(key(i), new Numbered(++revision, 0, 0, 0, 0));
    const deletedAt = revision;
    // Compacted halfway first: some keys keep their deletion alone, in a slot, until the next.
    for (const to of [deletedAt - 500, deletedAt]) {
      expect(packed.compact(to).map(fields)).toEqual(plain.compact(to).map(fields));
    }
    // ...and taken again by new keys, whose numbers must not mix with the survivors'.
    for (let i = 3_000; i < 4_500; i++)
      put(key(i), new Numbered(++revision, 1, revision, 1, 2 ** 52 + i));
    expect(packed.size).toBe(plain.size);
    const all = (h: KeyHistories) => [...h.entries()].map(([k, rs]) => [k, rs.map(fields)]);
    expect(all(packed)).toEqual(all(plain));
    for (let i = 0; i < 4_500; i += 7) {
      expect(fields(packed.latest(key(i)))).toEqual(fields(plain.latest(key(i))));
      expect(fields(packed.at(key(i), deletedAt - 1))).toEqual(
        fields(plain.at(key(i), deletedAt - 1)),
      );
    }
    packed.clear();
    expect(packed.size).toBe(0);
    packed.append("a", new Numbered(revision + 1, 0, revision + 1, 1, 0));
    expect(fields(packed.latest("a"))).toEqual([revision + 1, 0, revision + 1, 1, 0]);
  });

  it("keeps records it cannot hold as numbers as objects", () => {
    const h = new KeyHistories(numbers);
    const own = {
      modRevision: 2,
      subRevision: 0,
      createRevision: 2,
      version: 1,
      value: new Uint8Array([1]),
      lease: 0,
    };
    h.append("a", own);
    h.append("a", new Numbered(3, 0, 2, 2, 0));
    expect(h.history("a")![0]).toBe(own);
  });
});
