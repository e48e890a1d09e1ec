import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { type DatabaseOptions, open as openLmdb } from "lmdb";
import { afterAll, describe, expect, it } from "vitest";
import type { MvccBackend } from "../../src/kv/backend/backend.js";
import { LmdbBackend } from "../../src/kv/backend/lmdb.js";
import { MemoryBackend } from "../../src/kv/backend/memory.js";
import { type KvCommand, KvStore } from "../../src/kv/index.js";
import type { KeyRecord } from "../../src/kv/mvcc.js";
import { encodeRequestRow, type RequestEntry } from "../../src/kv/requests.js";
import { applyToModel, expectSameRanges, opArb, runBoth, text, toCommand } from "./ops.js";

/** Stages `entry` as the request log does: with its row. */
function putRequest(backend: MvccBackend, seq: number, entry: RequestEntry): void {
  backend.putRequest(seq, encodeRequestRow(entry));
}

const SEED = 4242;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh directory, removed after the file's tests. */
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-backend-"));
  dirs.push(dir);
  return dir;
}

/** A backend and how to get it back as a restarted process would. */
interface Opened {
  readonly backend: MvccBackend;
  reopen(): Promise<MvccBackend>;
}

const kinds: [string, () => Opened][] = [
  [
    "memory",
    () => {
      // In memory, "reopening" reads the same object's last commit.
      const backend = new MemoryBackend();
      return { backend, reopen: async () => backend };
    },
  ],
  [
    "lmdb",
    () => {
      const dir = tempDir();
      let backend: MvccBackend = new LmdbBackend(dir);
      return {
        get backend() {
          return backend;
        },
        reopen: async () => {
          await backend.close();
          backend = new LmdbBackend(dir);
          return backend;
        },
      };
    },
  ],
];

function record(modRevision: number, subRevision: number, value: string, version = 1): KeyRecord {
  return {
    modRevision,
    subRevision,
    createRevision: modRevision,
    version,
    value: new Uint8Array(Buffer.from(value)),
    lease: 0,
  };
}

const meta = (revision: number, appliedIndex = revision) => ({
  appliedIndex,
  revision,
  compactRevision: 0,
});

describe.each(kinds)("MVCC backend conformance: %s", (_name, open) => {
  it("an empty backend loads nothing", async () => {
    const o = open();
    expect(o.backend.load()).toBeUndefined();
    expect((await o.reopen()).load()).toBeUndefined();
  });

  it("a commit is loaded whole after a reopen: records in revision order, tables, requests oldest first", async () => {
    const o = open();
    const b = o.backend;
    b.putRecord("b", record(2, 0, "two"));
    b.putRecord("a", record(2, 1, "two-a"));
    b.putRecord("a", record(3, 0, "three", 2));
    b.putTables(new Uint8Array([7, 7]));
    b.putLease([9, 5000, 0]);
    b.putLease([3, 1000, 2, 400]);
    b.putLease([4, 1000, 0]);
    b.removeLease(4);
    putRequest(b, 2, ["second", new Uint8Array([2])]);
    putRequest(b, 1, ["first", new Uint8Array([1]), new Uint8Array(32)]);
    b.commit(meta(3, 9));
    const loaded = (await o.reopen()).load()!;
    expect(loaded.meta).toEqual(meta(3, 9));
    expect([...loaded.tables!]).toEqual([7, 7]);
    const records = [...loaded.records].map(([k, r]) => [
      k,
      r.modRevision,
      r.subRevision,
      r.version,
      text(r.value),
    ]);
    expect(records).toEqual([
      ["b", 2, 0, 1, "two"],
      ["a", 2, 1, 1, "two-a"],
      ["a", 3, 0, 2, "three"],
    ]);
    expect(loaded.requests.map(([seq, [id]]) => [seq, id])).toEqual([
      [1, "first"],
      [2, "second"],
    ]);
    expect(loaded.leases).toEqual([
      [3, 1000, 2, 400],
      [9, 5000, 0],
    ]);
    expect(loaded.requests[0]![1][2]).toHaveLength(32);
  });

  it("a record reads its value at once, before and after its commit lands", async () => {
    const o = open();
    const kept = o.backend.putRecord("k", record(2, 0, "v"));
    expect(text(kept.value)).toBe("v");
    o.backend.commit(meta(2));
    await o.backend.flushed();
    expect(text(kept.value)).toBe("v");
  });

  it("keeps revision order past 2^32 and reads back exact values of every size, one after another", async () => {
    const o = open();
    const big = 2 ** 32;
    // Out of order on purpose; sizes around lmdb-js's shared read buffer and far past it.
    const written: [string, number, number, string][] = [
      ["x", big + 1, 0, "x".repeat(70_000)],
      ["y", big - 1, 2, "y".repeat(5)],
      ["z", big, 0, ""],
      ["w", big - 1, 1, "w".repeat(40_000)],
      ["v", 2 ** 52 + 3, 7, "v".repeat(300)],
    ];
    const kept = written.map(([k, mod, sub, v]) => o.backend.putRecord(k, record(mod, sub, v)));
    o.backend.commit(meta(2 ** 52 + 3));
    await o.backend.flushed();
    // Read after the commit landed: from the file, in an order that makes each
    // read follow a bigger or smaller one.
    for (const i of [0, 1, 3, 2, 4, 0, 2]) expect(text(kept[i]!.value)).toBe(written[i]![3]);
    const loaded = (await o.reopen()).load()!;
    const records = [...loaded.records];
    expect(records.map(([k, r]) => [k, r.modRevision, r.subRevision])).toEqual([
      ["w", big - 1, 1],
      ["y", big - 1, 2],
      ["z", big, 0],
      ["x", big + 1, 0],
      ["v", 2 ** 52 + 3, 7],
    ]);
    const byKey = new Map(written.map(([k, , , v]) => [k, v]));
    for (const [k, r] of [...records].reverse()) expect(text(r.value)).toBe(byKey.get(k));
  });

  it("what was staged after the last commit is not loaded", async () => {
    const o = open();
    o.backend.putRecord("k", record(2, 0, "kept"));
    o.backend.commit(meta(2));
    o.backend.putRecord("k", record(3, 0, "lost", 2));
    o.backend.putTables(new Uint8Array([1]));
    const loaded = (await o.reopen()).load()!;
    expect(loaded.meta.revision).toBe(2);
    expect([...loaded.records].map(([, r]) => text(r.value))).toEqual(["kept"]);
    expect(loaded.tables).toBeUndefined();
  });

  it("removed records and forgotten requests are gone after their commit", async () => {
    const o = open();
    const old = record(2, 0, "old");
    o.backend.putRecord("k", old);
    o.backend.putRecord("k", record(3, 0, "new", 2));
    putRequest(o.backend, 1, ["r1", new Uint8Array([1])]);
    putRequest(o.backend, 2, ["r2", new Uint8Array([2])]);
    o.backend.commit(meta(3));
    o.backend.removeRecords([old]);
    o.backend.forgetRequestsBefore(2);
    o.backend.commit(meta(3, 4));
    const loaded = (await o.reopen()).load()!;
    expect([...loaded.records].map(([, r]) => text(r.value))).toEqual(["new"]);
    expect(loaded.requests.map(([seq, [id]]) => [seq, id])).toEqual([[2, "r2"]]);
    expect(loaded.meta.appliedIndex).toBe(4);
  });

  it("loads the requests from the last number forgotten before, oldest first, across many windows and reopens", async () => {
    // A window of 5 requests: puts and forgets as a full request log makes them,
    // committed a few at a time and reopened now and then.
    const o = open();
    let backend = o.backend;
    let seq = 0;
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 7; i++) {
        seq++;
        putRequest(backend, seq, [`r${seq}`, new Uint8Array([seq % 256])]);
        if (seq > 5) backend.forgetRequestsBefore(seq - 4);
        if (i % 3 === 2) backend.commit(meta(seq + 1));
      }
      backend.commit(meta(seq + 1));
      if (round % 4 === 3) {
        await backend.flushed();
        backend = await o.reopen();
        expect(backend.load()!.requests.map(([n]) => n)).toEqual(
          [1, 2, 3, 4, 5].map((k) => seq - 5 + k),
        );
      }
    }
    const loaded = (await o.reopen()).load()!;
    expect(loaded.requests.map(([n, [id, r]]) => [n, id, r[0]])).toEqual(
      [1, 2, 3, 4, 5].map((k) => [seq - 5 + k, `r${seq - 5 + k}`, (seq - 5 + k) % 256]),
    );
  });

  it("clear drops everything before it; the next commit holds only what came after", async () => {
    const o = open();
    o.backend.putRecord("k", record(2, 0, "before"));
    o.backend.putTables(new Uint8Array([1]));
    putRequest(o.backend, 1, ["r1", new Uint8Array([1])]);
    o.backend.putLease([1, 1000, 0]);
    o.backend.commit(meta(2));
    o.backend.clear();
    o.backend.putRecord("j", record(5, 0, "after"));
    o.backend.commit(meta(5, 50));
    const loaded = (await o.reopen()).load()!;
    expect([...loaded.records].map(([k, r]) => [k, text(r.value)])).toEqual([["j", "after"]]);
    expect(loaded.tables).toBeUndefined();
    expect(loaded.requests).toEqual([]);
    expect(loaded.leases).toEqual([]);
    expect(loaded.meta).toEqual(meta(5, 50));
  });

  it("counts its size in bytes", async () => {
    const o = open();
    for (let i = 0; i < 200; i++) o.backend.putRecord(`k${i}`, record(2 + i, 0, "x".repeat(1000)));
    o.backend.commit(meta(201));
    await o.backend.flushed();
    const reopened = await o.reopen();
    expect(reopened.sizeBytes()).toBeGreaterThan(200 * 1000);
  });
});

describe.each(kinds)("the key space over a backend, reopened: %s", (_name, open) => {
  it("a reopened store answers every range at every retained revision as before, then evolves identically", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 30 }),
        fc.array(opArb, { maxLength: 10 }),
        async (before, after) => {
          const o = open();
          const { store, model } = runBoth(before, new KvStore({ backend: o.backend }));
          const reference = runBoth(before).store;
          const reopened = new KvStore({ backend: await o.reopen() });
          expect(reopened.revision).toBe(store.revision);
          expect(reopened.compactRevision).toBe(store.compactRevision);
          expect(reopened.appliedIndex).toBe(store.appliedIndex);
          expectSameRanges(reopened, model);
          expect(reopened.leases().map((l) => [l.id, l.keys.map(text)])).toEqual(
            reference.leases().map((l) => [l.id, l.keys.map(text)]),
          );
          after.forEach((op, i) => {
            const cmd: KvCommand | undefined = toCommand(op, model);
            applyToModel(op, model);
            if (cmd === undefined) return;
            expect(reopened.apply(1000 + i, cmd)).toEqual(reference.apply(1000 + i, cmd));
          });
          expectSameRanges(reopened, model);
        },
      ),
      { seed: SEED, numRuns: 40 },
    );
  });

  it("remembers retried requests across a reopen, and the applied index of an empty entry", async () => {
    const o = open();
    const store = new KvStore({ backend: o.backend });
    const put: KvCommand = { type: "put", key: Buffer.from("k"), value: Buffer.from("v") };
    const first = store.apply(1, { type: "request", id: "req-1", command: put });
    store.advance(2);
    const reopened = new KvStore({ backend: await o.reopen() });
    expect(reopened.appliedIndex).toBe(2);
    expect(reopened.apply(3, { type: "request", id: "req-1", command: put })).toEqual(first);
    expect(reopened.revision).toBe(2);
  });

  it("forgets requests oldest first across restarts, as a replica that never restarted does", async () => {
    // Ids made in the reverse of their names' order: neither order may stand in for the other.
    const ids = ["r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1"];
    const requestWindow = { maxEntries: 3, maxBytes: 1024 * 1024 };
    const o = open();
    let restarted = new KvStore({ requestWindow, backend: o.backend });
    const restart = async () => {
      restarted = new KvStore({ requestWindow, backend: await o.reopen() });
    };
    const steady = new KvStore({ requestWindow });
    let index = 0;
    const applyBoth = (id: string) => {
      const put: KvCommand = { type: "put", key: Buffer.from(id), value: Buffer.from("v") };
      const command: KvCommand = { type: "request", id, command: put };
      index++;
      expect(restarted.apply(index, command), `${id} at ${index}`).toEqual(
        steady.apply(index, command),
      );
    };
    for (const id of ids.slice(0, 5)) applyBoth(id);
    await restart();
    applyBoth(ids[5]!);
    await restart();
    for (const id of ids.slice(6)) applyBoth(id);
    await restart();
    // A retry of each, youngest first (a retry applied again is remembered
    // anew, and would push out what the next retries look for): answered
    // from memory where the request is remembered, applied again where it
    // was forgotten, and alike on both.
    for (const id of [...ids].reverse()) applyBoth(id);
    expect(restarted.revision).toBe(steady.revision);
  });

  it("a snapshot read while writes and a compaction go on shows the moment it was taken", async () => {
    const o = open();
    const store = new KvStore({ backend: o.backend });
    for (let i = 0; i < 50; i++) {
      store.apply(i + 1, {
        type: "put",
        key: Buffer.from(`k${i % 5}`),
        value: Buffer.from(`${i}`),
      });
    }
    const at = store.revision;
    const stream = store.snapshot()[Symbol.asyncIterator]();
    const chunks: Uint8Array[] = [];
    const first = await stream.next();
    chunks.push(first.value as Uint8Array);
    store.apply(100, { type: "put", key: Buffer.from("later"), value: Buffer.from("x") });
    store.apply(101, { type: "compact", revision: store.revision });
    for (let n = await stream.next(); !n.done; n = await stream.next()) chunks.push(n.value);
    const restored = new KvStore();
    await restored.restore(
      (async function* () {
        yield* chunks;
      })(),
    );
    expect(restored.revision).toBe(at);
    const all = restored.range({ key: Buffer.from("k"), rangeEnd: Buffer.from("l"), revision: 2 });
    expect(all.kvs.map((kv) => text(kv.value))).toEqual(["0"]);
    // The compaction took effect once the view closed.
    expect(() => store.range({ key: Buffer.from("k0"), revision: 2 })).toThrow();
  });
});

/** A memory backend whose records count how often their value is read back. */
class CountingBackend extends MemoryBackend {
  reads = 0;
  override putRecord(key: Parameters<MemoryBackend["putRecord"]>[0], r: KeyRecord): KeyRecord {
    const stored = super.putRecord(key, r);
    const self = this;
    return {
      modRevision: stored.modRevision,
      subRevision: stored.subRevision,
      createRevision: stored.createRevision,
      version: stored.version,
      lease: stored.lease,
      get value() {
        self.reads++;
        return stored.value;
      },
    };
  }
}

describe("the value a write replaces", () => {
  const bytes = (s: string) => new Uint8Array(Buffer.from(s));
  const put = (key: string, value: string, prevKv = false): KvCommand => ({
    type: "put",
    key: bytes(key),
    value: bytes(value),
    ...(prevKv && { prevKv: true }),
  });

  it("is read from the backend only when prev_kv is asked for, by the write or a watcher", () => {
    const backend = new CountingBackend();
    const store = new KvStore({ backend });
    let index = 0;
    store.apply(++index, put("a", "1"));
    store.apply(++index, put("a", "2"));
    store.apply(++index, { type: "deleteRange", key: bytes("a") });
    store.apply(++index, put("a", "3"));
    expect(backend.reads).toBe(0);

    const answered = store.apply(++index, put("a", "4", true));
    expect(answered).toMatchObject({ type: "put", prevKv: { value: bytes("3") } });
    expect(backend.reads).toBe(1);

    const seen: unknown[] = [];
    const watcher = store.watch({ key: bytes("a"), prevKv: true }, (r) => seen.push(...r.events));
    store.apply(++index, put("a", "5"));
    store.apply(++index, { type: "deleteRange", key: bytes("a") });
    expect(seen).toMatchObject([
      { type: "put", kv: { value: bytes("5") }, prevKv: { value: bytes("4") } },
      { type: "delete", prevKv: { value: bytes("5") } },
    ]);
    const readsWhileWatched = backend.reads;
    watcher.cancel();
    store.apply(++index, put("a", "6"));
    store.apply(++index, put("a", "7"));
    expect(backend.reads).toBe(readsWhileWatched);
  });
});

describe("LMDB backend: requests an earlier version kept by id", () => {
  /** Whether a named table is in the file (lmdb-js throws or answers nothing when it is not). */
  const hasTable = (path: string, name: string) => {
    const root = openLmdb({ path, maxDbs: 4 });
    try {
      return (
        root.openDB({ name, create: false } as DatabaseOptions & { name: string }) !== undefined
      );
    } catch {
      return false;
    } finally {
      void root.close();
    }
  };

  it("are moved into the log by sequence number on open, in their order, and the old table dropped", async () => {
    const dir = tempDir();
    const root = openLmdb({ path: dir, maxDbs: 4, compression: false });
    const byId = root.openDB({ name: "requests", keyEncoding: "ordered-binary" });
    // As those versions could leave them after restarts: two under one number.
    await byId.put("b", [4, "b", new Uint8Array([2])]);
    await byId.put("a", [4, "a", new Uint8Array([1]), new Uint8Array(32)]);
    await byId.put("c", [2, "c", new Uint8Array([3])]);
    await root.put("meta", meta(3));
    await root.close();
    expect(hasTable(dir, "requests")).toBe(true);

    const backend = new LmdbBackend(dir);
    const loaded = backend.load()!;
    expect(loaded.requests.map(([seq, [id, result]]) => [seq, id, [...result]])).toEqual([
      [1, "c", [3]],
      [2, "a", [1]],
      [3, "b", [2]],
    ]);
    expect(loaded.requests[1]![1][2]).toHaveLength(32);
    await backend.close();
    expect(hasTable(dir, "requests")).toBe(false);

    // Once: a second opening finds the same log and nothing to move.
    const again = new LmdbBackend(dir);
    expect(again.load()!.requests.map(([seq, [id]]) => [seq, id])).toEqual([
      [1, "c"],
      [2, "a"],
      [3, "b"],
    ]);
    await again.close();
  });
});

describe("LMDB backend: remembered requests", () => {
  const rowsOnDisk = async (dir: string) => {
    const root = openLmdb({ path: dir, maxDbs: 8 });
    try {
      const counts = ["request-log", "request-log-2"].map(
        (name) =>
          (
            root.openDB({ name, keyEncoding: "ordered-binary" }).getStats() as {
              entryCount: number;
            }
          ).entryCount,
      );
      return counts as [number, number];
    } finally {
      await root.close();
    }
  };

  it("in a file an earlier version wrote, one table kept one at a time, load as they were and then rotate", async () => {
    const dir = tempDir();
    // As the earlier version left them: one table, the forgotten ones deleted.
    const root = openLmdb({ path: dir, maxDbs: 8, compression: false });
    const log = root.openDB({ name: "request-log", keyEncoding: "ordered-binary" });
    for (const seq of [7, 8, 9]) await log.put(seq, [`r${seq}`, new Uint8Array([seq])]);
    await root.put("meta", meta(9));
    await root.close();

    let backend = new LmdbBackend(dir);
    expect(backend.load()!.requests.map(([seq, [id]]) => [seq, id])).toEqual([
      [7, "r7"],
      [8, "r8"],
      [9, "r9"],
    ]);
    // A window of 3 going on from there, through two swaps of the tables.
    for (let seq = 10; seq <= 17; seq++) {
      putRequest(backend, seq, [`r${seq}`, new Uint8Array([seq])]);
      backend.forgetRequestsBefore(seq - 2);
      backend.commit(meta(seq));
    }
    await backend.close();
    backend = new LmdbBackend(dir);
    expect(backend.load()!.requests.map(([seq]) => seq)).toEqual([15, 16, 17]);
    await backend.close();
    const [first, second] = await rowsOnDisk(dir);
    expect(first + second).toBeLessThanOrEqual(2 * 3 + 2);
  });

  it("are dropped a table at a time, so the file holds at most two windows of them, and a store reopened anywhere retries as a steady one", async () => {
    const dir = tempDir();
    const requestWindow = { maxEntries: 40, maxBytes: 1024 * 1024 };
    const random = fc.sample(fc.integer({ min: 0, max: 99 }), { seed: SEED, numRuns: 400 });
    let backend = new LmdbBackend(dir);
    let restarted = new KvStore({ requestWindow, backend });
    const steady = new KvStore({ requestWindow });
    const most: number[] = [];
    for (const [i, roll] of random.entries()) {
      // Mostly new ids; now and then a retry of one from up to 60 back,
      // remembered or not, which must be answered alike on both.
      const n = roll < 80 ? i : Math.max(0, i - 20 - (roll % 40));
      const command: KvCommand = {
        type: "request",
        id: `r${n}`,
        command: { type: "put", key: Buffer.from(`k${n % 7}`), value: Buffer.from(`v${n}`) },
      };
      expect(restarted.apply(i + 1, command), `request ${n} at ${i + 1}`).toEqual(
        steady.apply(i + 1, command),
      );
      if (roll >= 95) {
        await backend.close();
        const [young, old] = await rowsOnDisk(dir);
        most.push(young + old);
        backend = new LmdbBackend(dir);
        restarted = new KvStore({ requestWindow, backend });
      }
    }
    expect(restarted.revision).toBe(steady.revision);
    await backend.close();
    // Never more than two windows (and a request or two put before the swap that started them).
    expect(Math.max(...most)).toBeLessThanOrEqual(2 * requestWindow.maxEntries + 2);
    const [first, second] = await rowsOnDisk(dir);
    expect(first > 0 && second > 0, "both tables in use").toBe(true);
  });
});
