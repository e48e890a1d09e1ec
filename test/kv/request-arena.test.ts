import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AddOrder, ByteArena, type Handle, IdTable } from "../../src/kv/request-arena.js";

const SEED = 1208;
/** Ids drawn from r-0 to r-IDS: enough live ones to grow the table past its first size (1,024 slots). */
const IDS = 1_000;

/** Ids written into an arena as [length, bytes...], as the request log lays them out. */
function arenaIds() {
  const arena = new ByteArena();
  const write = (id: string): Handle => {
    const handle = arena.alloc(1 + id.length);
    const out = arena.view(handle);
    out[0] = id.length;
    for (let i = 0; i < id.length; i++) out[1 + i] = id.charCodeAt(i);
    return handle;
  };
  const bytes = {
    idLength: (handle: Handle) => arena.byteAt(handle, 0),
    idByte: (handle: Handle, i: number) => arena.byteAt(handle, 1 + i),
  };
  return { write, bytes };
}

type TableOp =
  | { kind: "set"; id: number }
  | { kind: "delete"; id: number }
  | { kind: "deleteEntry"; pick: number };

const tableOp: fc.Arbitrary<TableOp> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ kind: fc.constant("set" as const), id: fc.noBias(fc.nat(IDS)) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("delete" as const), id: fc.noBias(fc.nat(IDS)) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("deleteEntry" as const), pick: fc.nat() }),
  },
);

/**
 * Hashes as the table sees them: as they are; eight values (long runs of
 * ids sharing home slots); eight values at the end of the first table
 * (runs that wrap around to its start); one value (every id collides).
 */
const SHAPES: ((hash: number) => number)[] = [
  (h) => h,
  (h) => h & 7,
  (h) => 1_016 | (h & 7),
  () => 5,
];

describe("IdTable", () => {
  it("finds every id after growing many times, and after half are deleted", () => {
    for (const shape of [SHAPES[0]!, SHAPES[2]!]) {
      const { write, bytes } = arenaIds();
      const table = new IdTable(bytes, shape);
      const handles = new Map<string, Handle>();
      for (let n = 0; n < 5_000; n++) {
        const id = `grow-${n}`;
        handles.set(id, write(id));
        table.set(id, handles.get(id)!);
      }
      for (let n = 0; n < 5_000; n += 2)
        expect(table.delete(`grow-${n}`)).toBe(handles.get(`grow-${n}`));
      for (let n = 0; n < 5_000; n++) {
        expect(table.get(`grow-${n}`)).toBe(n % 2 === 0 ? undefined : handles.get(`grow-${n}`));
      }
      expect(table.size).toBe(2_500);
    }
  });

  it("answers as a Map from id to its latest entry through growth, deletes and colliding hashes", () => {
    fc.assert(
      fc.property(
        fc.array(tableOp, { minLength: 900, maxLength: 1_500 }),
        fc.constantFrom(...SHAPES),
        (ops, shape) => {
          const { write, bytes } = arenaIds();
          const table = new IdTable(bytes, shape);
          const model = new Map<string, Handle>();
          const written: Handle[] = [];
          for (const op of ops) {
            if (op.kind === "set") {
              const id = `r-${op.id}`;
              const handle = write(id);
              written.push(handle);
              table.set(id, handle);
              model.set(id, handle);
            } else if (op.kind === "delete") {
              const id = `r-${op.id}`;
              expect(table.delete(id)).toBe(model.get(id));
              model.delete(id);
            } else if (written.length > 0) {
              // Forgetting an entry by handle forgets its id only while the id points at it.
              const handle = written[op.pick % written.length]!;
              const current = [...model].find(([, h]) => h === handle);
              expect(table.current(handle)).toBe(current !== undefined);
              table.deleteEntry(handle);
              if (current !== undefined) model.delete(current[0]);
            }
            expect(table.size).toBe(model.size);
          }
          for (let n = 0; n <= IDS; n++) {
            const id = `r-${n}`;
            expect(table.get(id)).toBe(model.get(id));
          }
          for (const handle of written) {
            expect(table.current(handle)).toBe([...model.values()].includes(handle));
          }
        },
      ),
      { seed: SEED, numRuns: 40 },
    );
  });

  it("tells apart ids of equal hash and length by their bytes", () => {
    const { write, bytes } = arenaIds();
    const table = new IdTable(bytes, () => 0);
    const a = write("ab");
    const b = write("ba");
    table.set("ab", a);
    table.set("ba", b);
    expect([table.get("ab"), table.get("ba"), table.get("aa")]).toEqual([a, b, undefined]);
    table.delete("ab");
    expect([table.get("ab"), table.get("ba")]).toEqual([undefined, b]);
  });
});

describe("AddOrder", () => {
  it("hands pairs back in the order pushed, across shifts and growth", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            { weight: 1, arbitrary: fc.constant(-1) },
            { weight: 3, arbitrary: fc.noBias(fc.nat(2 ** 40)) },
          ),
          { minLength: 2_500, maxLength: 4_000 },
        ),
        (ops) => {
          const order = new AddOrder();
          const model: [number, number][] = [];
          let seq = 1;
          for (const op of ops) {
            if (op === -1) {
              if (model.length === 0) continue;
              order.shift();
              model.shift();
            } else {
              // Handles and numbers beyond 2^32 stay exact.
              order.push(op, 2 ** 33 + seq);
              model.push([op, 2 ** 33 + seq]);
              seq++;
            }
            expect(order.length).toBe(model.length);
          }
          const held = Array.from({ length: order.length }, (_, i) => [
            order.handleAt(i),
            order.seqAt(i),
          ]);
          expect(held).toEqual(model);
        },
      ),
      { seed: SEED, numRuns: 30 },
    );
  });
});
