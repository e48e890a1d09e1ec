import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { afterAll, describe, expect, it, vi } from "vitest";
import { LmdbBackend } from "../../src/kv/backend/lmdb.js";
import type { KeyString } from "../../src/kv/bytes.js";
import { InvalidKvCommandError } from "../../src/kv/errors.js";
import type { KeyRecord } from "../../src/kv/mvcc.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-lmdb-batch-"));
  dirs.push(dir);
  return dir;
};

const record = (revision: number, value: string): KeyRecord => ({
  modRevision: revision,
  subRevision: 0,
  createRevision: revision,
  version: 1,
  value: new Uint8Array(Buffer.from(value)),
  lease: 0,
});
const meta = (revision: number) => ({ appliedIndex: revision, revision, compactRevision: 0 });
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

describe("LMDB backend: commits gathered into transactions", () => {
  it("commits made over many turns reach the file as one transaction, read from memory until then", async () => {
    const dir = freshDir();
    const backend = new LmdbBackend(dir, { intervalMs: 60_000 });
    const before = backend.transactions;
    const kept: KeyRecord[] = [];
    for (let rev = 2; rev <= 21; rev++) {
      kept.push(backend.putRecord(`k${rev}` as KeyString, record(rev, `v${rev}`)));
      backend.commit(meta(rev));
      await nextTurn();
    }
    expect(backend.transactions).toBe(before);
    expect(kept.map((r) => text(r.value))).toEqual(kept.map((_, i) => `v${i + 2}`));
    await backend.flushed();
    expect(backend.transactions).toBe(before + 1);
    expect(kept.map((r) => text(r.value))).toEqual(kept.map((_, i) => `v${i + 2}`));
    await backend.close();
    const reopened = new LmdbBackend(dir);
    const loaded = reopened.load();
    expect(loaded?.meta).toEqual(meta(21));
    expect([...(loaded?.records ?? [])].map(([key, r]) => [key, text(r.value)])).toEqual(
      kept.map((_, i) => [`k${i + 2}`, `v${i + 2}`]),
    );
    await reopened.close();
  });

  it("keeps a staged value as given until its batch is written, and reads hand out plain copies", async () => {
    const backend = new LmdbBackend(freshDir(), { intervalMs: 60_000 });
    // A view into a bigger buffer, as a value in a log entry is.
    const entry = Buffer.from("header|big value|trailer");
    const given = { ...record(2, ""), value: entry.subarray(7, 16) };
    const kept = backend.putRecord("k" as KeyString, given);
    backend.commit(meta(2));
    const read = kept.value;
    expect(Object.getPrototypeOf(read)).toBe(Uint8Array.prototype);
    expect(text(read)).toBe("big value");
    read.fill(0);
    expect(text(kept.value)).toBe("big value");
    await backend.flushed();
    expect(Object.getPrototypeOf(kept.value)).toBe(Uint8Array.prototype);
    expect(text(kept.value)).toBe("big value");
    await backend.close();
  });

  it("a batch not yet written is not in the file: a reader of it sees the last written commit, whole", async () => {
    const dir = freshDir();
    const writer = new LmdbBackend(dir, { intervalMs: 60_000 });
    writer.putRecord("a" as KeyString, record(2, "one"));
    writer.commit(meta(2));
    await writer.flushed();
    writer.putRecord("b" as KeyString, record(3, "two"));
    writer.commit(meta(3));
    // What a process that ended now would leave.
    const reader = new LmdbBackend(dir);
    const loaded = reader.load();
    expect(loaded?.meta).toEqual(meta(2));
    expect([...(loaded?.records ?? [])].map(([key, r]) => [key, text(r.value)])).toEqual([
      ["a", "one"],
    ]);
    await reader.close();
    await writer.flushed();
    // A reader opened now (an open one may go on reading the snapshot it started with).
    const later = new LmdbBackend(dir);
    const loaded3 = later.load();
    expect(loaded3?.meta).toEqual(meta(3));
    expect([...(loaded3?.records ?? [])].map(([key]) => key)).toEqual(["a", "b"]);
    await later.close();
    await writer.close();
  });

  it("starts the transaction at once when enough writes or bytes wait", async () => {
    const byWrites = new LmdbBackend(freshDir(), { intervalMs: 60_000, maxWrites: 3 });
    const start = byWrites.transactions;
    for (let rev = 2; rev <= 4; rev++) {
      byWrites.putRecord(`k${rev}` as KeyString, record(rev, "v"));
      byWrites.commit(meta(rev));
    }
    await vi.waitFor(() => expect(byWrites.transactions).toBe(start + 1), { timeout: 10_000 });
    await byWrites.close();

    const byBytes = new LmdbBackend(freshDir(), { intervalMs: 60_000, maxBytes: 1000 });
    const first = byBytes.transactions;
    byBytes.putRecord("big" as KeyString, record(2, "x".repeat(1000)));
    byBytes.commit(meta(2));
    await vi.waitFor(() => expect(byBytes.transactions).toBe(first + 1), { timeout: 10_000 });
    await byBytes.close();
  });

  it("big records encoded into reused memory all reach the file as they were", async () => {
    // Each commit is written at once, all in one turn: a record's memory
    // handed out again before lmdb-js wrote it would give an earlier record a later one's bytes.
    const dir = freshDir();
    const backend = new LmdbBackend(dir, { intervalMs: 0 });
    const big = (rev: number) => new Uint8Array(200 * 1024 + rev).fill(rev);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 8; i++) {
        const rev = 2 + round * 8 + i;
        backend.putRecord(`k${rev}` as KeyString, { ...record(rev, ""), value: big(rev) });
        backend.commit(meta(rev));
      }
      await backend.flushed();
    }
    await backend.close();
    const reopened = new LmdbBackend(dir);
    const loaded = [...(reopened.load()?.records ?? [])];
    expect(loaded).toHaveLength(24);
    for (const [key, r] of loaded) {
      expect(key).toBe(`k${r.modRevision}`);
      expect(Buffer.compare(r.value, big(r.modRevision))).toBe(0);
    }
    await reopened.close();
  });

  it("refuses batch options that are not non-negative integers", () => {
    for (const bad of [{ intervalMs: -1 }, { maxWrites: 1.5 }, { maxBytes: Number.NaN }]) {
      expect(() => new LmdbBackend(freshDir(), bad)).toThrow(InvalidKvCommandError);
    }
  });
});
