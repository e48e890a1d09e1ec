import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RecordBuffers } from "../../src/kv/backend/record-buffers.js";
import { RaftInvariantError } from "../../src/raft/core/errors.js";

const KiB = 1024;
const options = { minBytes: 64 * KiB, maxFreeBytes: 1024 * KiB, maxBytes: 512 * KiB };

describe("record buffers: memory for big records, reused once given back", () => {
  it("pools only records between the bounds", () => {
    const pool = new RecordBuffers(options);
    expect(pool.pools(64 * KiB - 1)).toBe(false);
    expect(pool.pools(64 * KiB)).toBe(true);
    expect(pool.pools(512 * KiB)).toBe(true);
    expect(pool.pools(512 * KiB + 1)).toBe(false);
  });

  it("never hands out memory that is lent, and reuses what was given back", () => {
    // Random sequences of takes and gives: every buffer out at once has memory of its own.
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 64 * KiB, max: 512 * KiB }), fc.constant(-1)), {
          maxLength: 40,
        }),
        (steps) => {
          const pool = new RecordBuffers(options);
          const out: Buffer[] = [];
          for (const step of steps) {
            if (step === -1) {
              pool.give(out.splice(0, 1));
              continue;
            }
            const b = pool.take(step);
            expect(b.byteLength).toBe(step);
            expect(b.byteOffset).toBe(0);
            expect(out.some((o) => o.buffer === b.buffer)).toBe(false);
            out.push(b);
          }
          expect(pool.heldBytes).toBeLessThanOrEqual(options.maxFreeBytes);
        },
      ),
    );
  });

  it("gives the smallest free buffer that fits", () => {
    const pool = new RecordBuffers(options);
    const small = pool.take(100 * KiB);
    const big = pool.take(300 * KiB);
    pool.give([big, small]);
    expect(pool.take(90 * KiB).buffer).toBe(small.buffer);
    expect(pool.take(200 * KiB).buffer).toBe(big.buffer);
    // Nothing free fits: new memory.
    const fresh = pool.take(400 * KiB);
    expect([small.buffer, big.buffer]).not.toContain(fresh.buffer);
  });

  it("keeps at most maxFreeBytes of free buffers", () => {
    const pool = new RecordBuffers(options);
    const taken = Array.from({ length: 4 }, () => pool.take(512 * KiB));
    pool.give(taken);
    expect(pool.heldBytes).toBe(1024 * KiB);
  });

  it("refuses memory given back twice, or never lent", () => {
    const pool = new RecordBuffers(options);
    const b = pool.take(64 * KiB);
    pool.give([b]);
    expect(() => pool.give([b])).toThrow(RaftInvariantError);
    expect(() => pool.give([Buffer.alloc(64 * KiB)])).toThrow(RaftInvariantError);
  });
});
