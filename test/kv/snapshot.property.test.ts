import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidKvCommandError, KvStore } from "../../src/kv/index.js";
import { applyToModel, expectSameRanges, opArb, runBoth, text, toCommand } from "./ops.js";

const SEED = 777;

async function collect(stream: Uint8Array | AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  if (stream instanceof Uint8Array) return [stream];
  const chunks: Uint8Array[] = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

async function* replayChunks(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

describe("snapshot and restore", () => {
  it("a restored store answers every range at every retained revision identically, then evolves identically", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 40 }),
        fc.array(opArb, { maxLength: 15 }),
        async (before, after) => {
          const { store, model } = runBoth(before);
          const restored = new KvStore();
          await restored.restore(replayChunks(await collect(store.snapshot())));
          expect(restored.revision).toBe(store.revision);
          expect(restored.compactRevision).toBe(store.compactRevision);
          expect(restored.appliedIndex).toBe(store.appliedIndex);
          expectSameRanges(restored, model);
          expect(restored.leases().map((l) => [l.id, l.keys.map(text)])).toEqual(
            store.leases().map((l) => [l.id, l.keys.map(text)]),
          );
          after.forEach((op, i) => {
            const cmd = toCommand(op, model);
            applyToModel(op, model);
            if (cmd === undefined) return;
            const a = store.apply(1000 + i, cmd);
            const b = restored.apply(1000 + i, cmd);
            expect(b).toEqual(a);
          });
          expectSameRanges(restored, model);
        },
      ),
      { seed: SEED, numRuns: 120 },
    );
  });

  it("a snapshot split at every byte boundary restores the same", async () => {
    const { store, model } = runBoth([
      { op: "grant", id: 1 },
      { op: "put", key: "a", value: "x", lease: 1 },
      { op: "put", key: "b", value: "y", lease: 0 },
      { op: "delete", key: "a", end: undefined },
      { op: "put", key: "c/1", value: "z", lease: 1 },
    ]);
    const whole = Buffer.concat(await collect(store.snapshot()));
    for (let cut = 1; cut < whole.byteLength; cut += 7) {
      const restored = new KvStore();
      await restored.restore(replayChunks([whole.subarray(0, cut), whole.subarray(cut)]));
      expectSameRanges(restored, model);
    }
  });

  it("rejects a truncated or corrupt snapshot with a typed error and keeps the old state", async () => {
    const { store } = runBoth([{ op: "put", key: "a", value: "x", lease: 0 }]);
    const whole = Buffer.concat(await collect(store.snapshot()));
    const target = new KvStore();
    target.apply(1, { type: "put", key: Buffer.from("keep"), value: Buffer.from("1") });
    for (const bad of [
      whole.subarray(0, whole.byteLength - 3),
      whole.subarray(0, 4),
      Buffer.from([0, 0, 0, 2, 0xc1, 0xc1]),
    ]) {
      await expect(target.restore(replayChunks([bad]))).rejects.toBeInstanceOf(
        InvalidKvCommandError,
      );
    }
    expect(target.range({ key: Buffer.from("keep") }).count).toBe(1);
  });
});
