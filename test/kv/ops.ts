import fc from "fast-check";
import { expect } from "vitest";
import { prefixEnd, utf8 } from "../../src/kv/bytes.js";
import type { KvCommand } from "../../src/kv/index.js";
import { CompactedError, KvStore, type RangeResult } from "../../src/kv/index.js";
import { KvModel, type ModelOp } from "./model.js";

export const keyArb = fc.constantFrom("a", "ab", "abc", "b", "ba", "c", "c/1", "c/2");
export const opArb: fc.Arbitrary<ModelOp> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant("put" as const),
      key: keyArb,
      value: fc.string({ maxLength: 4 }),
      lease: fc.constantFrom(0, 0, 1, 2),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("delete" as const),
      key: keyArb,
      end: fc.option(keyArb, { nil: undefined }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("txnVersion" as const),
      key: keyArb,
      version: fc.integer({ min: 0, max: 3 }),
      thenKey: keyArb,
      elseKey: keyArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("grant" as const), id: fc.constantFrom(1, 2) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("revoke" as const), id: fc.constantFrom(1, 2) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("compact" as const),
      back: fc.integer({ min: 0, max: 5 }),
    }),
  },
);

/** Turns a model op into a store command, or undefined when the op is a no-op for the model too. */
export function toCommand(op: ModelOp, model: KvModel): KvCommand | undefined {
  switch (op.op) {
    case "put":
      return { type: "put", key: utf8(op.key), value: utf8(op.value), lease: op.lease };
    case "delete":
      return op.end === undefined
        ? { type: "deleteRange", key: utf8(op.key) }
        : { type: "deleteRange", key: utf8(op.key), rangeEnd: utf8(op.end) };
    case "txnVersion":
      return {
        type: "txn",
        compare: [{ key: utf8(op.key), target: "version", result: "equal", value: op.version }],
        success: [{ type: "put", key: utf8(op.thenKey), value: utf8("then") }],
        failure: [
          { type: "deleteRange", key: utf8(op.elseKey), rangeEnd: prefixEnd(utf8(op.elseKey)) },
        ],
      };
    case "grant":
      return { type: "leaseGrant", id: op.id, ttlMs: 1000 };
    case "revoke":
      return { type: "leaseRevoke", id: op.id };
    case "compact":
      return { type: "compact", revision: Math.max(1, model.revision - op.back) };
  }
}

/** Applies the op to the model the way the store should; returns whether it was accepted. */
export function applyToModel(op: ModelOp, model: KvModel): boolean {
  switch (op.op) {
    case "put":
      if (op.lease !== 0 && !model.leases.has(op.lease)) return false;
      model.write([{ key: op.key, value: op.value, lease: op.lease }]);
      return true;
    case "delete":
      model.write(model.range(op.key, op.end, model.revision).map((kv) => ({ key: kv.key })));
      return true;
    case "txnVersion": {
      const kv = model.current().get(op.key);
      if ((kv?.version ?? 0) === op.version) {
        model.write([{ key: op.thenKey, value: "then" }]);
      } else {
        const end = prefixEndString(op.elseKey);
        model.write(model.range(op.elseKey, end, model.revision).map((k) => ({ key: k.key })));
      }
      return true;
    }
    case "grant":
      if (model.leases.has(op.id)) return false;
      model.leases.set(op.id, new Set());
      return true;
    case "revoke": {
      const keys = model.leases.get(op.id);
      if (keys === undefined) return false;
      model.write([...keys].sort().map((key) => ({ key })));
      model.leases.delete(op.id);
      return true;
    }
    case "compact": {
      const rev = Math.max(1, model.revision - op.back);
      if (rev <= model.compactRevision) return false;
      model.compactRevision = rev;
      return true;
    }
  }
}

function prefixEndString(key: string): string {
  return Buffer.from(prefixEnd(utf8(key))).toString("latin1");
}

/** Runs ops on a fresh store and model side by side, asserting each accept/reject agrees. */
export function runBoth(
  ops: readonly ModelOp[],
  store = new KvStore(),
): { store: KvStore; model: KvModel } {
  const model = new KvModel();
  ops.forEach((op, i) => {
    const cmd = toCommand(op, model);
    const accepted = applyToModel(op, model);
    if (cmd === undefined) return;
    const result = store.apply(i + 1, cmd);
    if ((result.type !== "error") !== accepted) {
      throw new Error(
        `op ${i} ${JSON.stringify(op)}: store ${result.type}, model accepted=${accepted}`,
      );
    }
    if (store.revision !== model.revision) {
      throw new Error(`op ${i}: store revision ${store.revision}, model ${model.revision}`);
    }
  });
  return { store, model };
}

export function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("utf8");
}

export function simplify(r: RangeResult) {
  return r.kvs.map((kv) => ({ ...kv, key: text(kv.key), value: text(kv.value) }));
}

/** Every range the tests ask: whole space, each single key, and a few intervals. */
export const QUERIES: [string, string | undefined][] = [
  ["a", "\u00ff"],
  ["a", undefined],
  ["ab", undefined],
  ["b", undefined],
  ["c/1", undefined],
  ["a", "b"],
  ["ab", "c"],
  ["c/", "c0"],
];

export function expectSameRanges(store: KvStore, model: KvModel): void {
  for (let rev = 1; rev <= model.revision; rev++) {
    for (const [key, end] of QUERIES) {
      const req = { key: utf8(key), revision: rev, ...(end ? { rangeEnd: utf8(end) } : {}) };
      if (rev < model.compactRevision) {
        expect(() => store.range(req)).toThrow(CompactedError);
        continue;
      }
      expect(simplify(store.range(req)), `range ${key}..${end} @${rev}`).toEqual(
        model.range(key, end, rev),
      );
    }
  }
}

/** The store copied through its snapshot stream into a fresh store. */
export async function roundTrip(store: KvStore): Promise<KvStore> {
  const chunks: Uint8Array[] = [];
  for await (const c of store.snapshot()) chunks.push(c);
  const copy = new KvStore();
  await copy.restore(
    (async function* () {
      yield* chunks;
    })(),
  );
  return copy;
}
