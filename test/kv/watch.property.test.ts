import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { utf8 } from "../../src/kv/bytes.js";
import { CompactedError, type KvEvent, KvStore, type WatchResponse } from "../../src/kv/index.js";
import { KvModel, type ModelEvent } from "./model.js";
import { applyToModel, opArb, QUERIES, text, toCommand } from "./ops.js";

const SEED = 4242;

function fromStore(e: KvEvent) {
  const kv = { ...e.kv, key: text(e.kv.key), value: text(e.kv.value) };
  const prevKv = e.prevKv && { ...e.prevKv, key: text(e.prevKv.key), value: text(e.prevKv.value) };
  return { type: e.type, kv, prevKv };
}

function fromModel(e: ModelEvent) {
  const kv = e.kv ?? {
    key: e.key,
    createRevision: 0,
    modRevision: e.revision,
    version: 0,
    value: "",
    lease: 0,
  };
  return { type: e.type, kv, prevKv: e.prevKv };
}

describe("watch", () => {
  it("delivers exactly the history from its start revision, in order, across replay and live", () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        fc.nat(),
        fc.integer({ min: -1, max: 8 }),
        fc.nat({ max: QUERIES.length - 1 }),
        fc.constantFrom<"none" | "noPut" | "noDelete">("none", "noPut", "noDelete"),
        (ops, registerAtRaw, back, queryIndex, filter) => {
          const store = new KvStore();
          const model = new KvModel();
          const registerAt = registerAtRaw % (ops.length + 1);
          const [key, end] = QUERIES[queryIndex]!;
          const responses: WatchResponse[] = [];
          let start = 0;
          const register = (): void => {
            start = model.revision + 1 - back;
            if (start < 1) start = 1;
            const options = {
              key: utf8(key),
              ...(end ? { rangeEnd: utf8(end) } : {}),
              startRevision: start,
              prevKv: true,
              noPut: filter === "noPut",
              noDelete: filter === "noDelete",
            };
            if (start < model.compactRevision) {
              expect(() => store.watch(options, () => {})).toThrow(CompactedError);
              start = -1;
              return;
            }
            store.watch(options, (r) => responses.push(r));
          };
          ops.forEach((op, i) => {
            if (i === registerAt) register();
            const cmd = toCommand(op, model);
            applyToModel(op, model);
            if (cmd !== undefined) store.apply(i + 1, cmd);
          });
          if (registerAt === ops.length) register();
          if (start === -1) return;

          const inRange = (k: string) => (end === undefined ? k === key : k >= key && k < end);
          const expected = model.events
            .filter((e) => e.revision >= start && inRange(e.key))
            // Watched from the compaction point, as etcd allows: its deletions were compacted away.
            .filter((e) => !(e.revision === model.compactRevision && e.type === "delete"))
            .filter((e) => (filter === "noPut" ? e.type !== "put" : true))
            .filter((e) => (filter === "noDelete" ? e.type !== "delete" : true));
          const revisions = responses.map((r) => r.revision);
          expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);
          expect(new Set(revisions).size).toBe(revisions.length);
          for (const r of responses)
            for (const e of r.events) expect(e.kv.modRevision).toBe(r.revision);
          expect(responses.flatMap((r) => r.events.map(fromStore))).toEqual(
            expected.map(fromModel),
          );
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });
});
