/**
 * `npm run bench -- wal [--dir <path>]`: the durable WAL on the real file
 * system. 256-byte entries appended by 1, 16 and 64 concurrent writers, each
 * waiting for its own append to be durable before the next. Reports appends
 * and fdatasyncs per second; group commit shows as appends per sync above 1.
 *
 * The peer in the same run is the naive WAL: every append does its own
 * write and fdatasync (same writers, same file system). Also reports the
 * memory held per entry after recovery (heap + array buffers, measured in a
 * child process with explicit GC).
 *
 * Each configuration is bounded by an append count and a time budget.
 * Results depend on the disk: point --dir at the disk the node will use.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Entry } from "../src/raft/core/types.js";
import { EntryType } from "../src/raft/core/types.js";
import { WalStorage } from "../src/raft/storage/wal-storage.js";

const ENTRY_BYTES = 256;
const WRITERS = [1, 16, 64] as const;
const MAX_APPENDS: Record<(typeof WRITERS)[number], number> = { 1: 3_000, 16: 20_000, 64: 40_000 };
const TIME_BUDGET_MS = 4_000;
const MEMORY_ENTRIES = 50_000;
const IDENTITY = { clusterId: "bench", nodeId: 1 };

const payload = new Uint8Array(ENTRY_BYTES).fill(0x5a);
const entryAt = (index: number): Entry => ({
  index,
  term: 1,
  type: EntryType.Normal,
  data: payload,
});

interface Result {
  readonly appends: number;
  readonly syncs: number;
  readonly seconds: number;
}

/** `writers` loops, each appending one entry and waiting for it, until the count or time runs out. */
async function runWriters(
  writers: number,
  maxAppends: number,
  appendOne: () => Promise<void>,
): Promise<number> {
  let issued = 0;
  const deadline = performance.now() + TIME_BUDGET_MS;
  const loop = async () => {
    while (issued < maxAppends && performance.now() < deadline) {
      issued++;
      await appendOne();
    }
  };
  await Promise.all(Array.from({ length: writers }, loop));
  return issued;
}

async function benchWal(dir: string, writers: number): Promise<Result> {
  const s = await WalStorage.open(dir, IDENTITY);
  const append = () => s.save({ entries: [entryAt(s.lastIndex() + 1)] });
  for (let i = 0; i < 200; i++) await append(); // warm up
  const syncs0 = s.stats().recordSyncs;
  const t0 = performance.now();
  const appends = await runWriters(writers, MAX_APPENDS[writers as 1], append);
  const seconds = (performance.now() - t0) / 1000;
  const syncs = s.stats().recordSyncs - syncs0;
  await s.close();
  return { appends, syncs, seconds };
}

/** One write and one fdatasync per append, writers sharing the file. */
async function benchNaive(dir: string, writers: number): Promise<Result> {
  const fh = await open(join(dir, "naive.log"), "w");
  let position = 0;
  let syncs = 0;
  const append = async () => {
    const at = position;
    position += ENTRY_BYTES;
    await fh.write(payload, 0, ENTRY_BYTES, at);
    await fh.datasync();
    syncs++;
  };
  for (let i = 0; i < 200; i++) await append();
  syncs = 0;
  const t0 = performance.now();
  const appends = await runWriters(writers, MAX_APPENDS[writers as 1], append);
  const seconds = (performance.now() - t0) / 1000;
  await fh.close();
  return { appends, syncs, seconds };
}

/** Child process: memory held per entry by a storage that recovered MEMORY_ENTRIES entries. */
async function measureMemory(dir: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --expose-gc");
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  gc();
  const before = used();
  const s = await WalStorage.open(dir, IDENTITY);
  gc();
  const after = used();
  const entries = s.stats().entriesInMemory;
  process.stdout.write(
    `${JSON.stringify({ entries, bytesPerEntry: Math.round((after - before) / entries) })}\n`,
  );
  await s.close();
}

async function prepareMemoryDir(base: string): Promise<string> {
  const dir = await mkdtemp(join(base, "conclave-wal-mem-"));
  const s = await WalStorage.open(dir, IDENTITY);
  for (let i = 1; i <= MEMORY_ENTRIES; i += 1000) {
    const batch: Entry[] = [];
    for (let j = i; j < i + 1000; j++)
      batch.push({ index: j, term: 1, type: EntryType.Normal, data: payload.slice() });
    await s.save({ entries: batch });
  }
  await s.close();
  return dir;
}

function rate(n: number, seconds: number): number {
  return Math.round(n / seconds);
}

async function main(): Promise<void> {
  const memoryChild = process.env.WAL_BENCH_MEMORY_DIR;
  if (memoryChild !== undefined) return measureMemory(memoryChild);
  const dirFlag = process.argv.indexOf("--dir");
  const base = dirFlag >= 0 && process.argv[dirFlag + 1] ? process.argv[dirFlag + 1]! : tmpdir();
  const rows = [];
  for (const writers of WRITERS) {
    const walDir = await mkdtemp(join(base, "conclave-wal-bench-"));
    const naiveDir = await mkdtemp(join(base, "conclave-wal-naive-"));
    try {
      const wal = await benchWal(walDir, writers);
      const naive = await benchNaive(naiveDir, writers);
      rows.push({
        writers,
        walAppendsPerSec: rate(wal.appends, wal.seconds),
        walSyncsPerSec: rate(wal.syncs, wal.seconds),
        walAppendsPerSync: Math.round((wal.appends / wal.syncs) * 10) / 10,
        naiveAppendsPerSec: rate(naive.appends, naive.seconds),
        naiveSyncsPerSec: rate(naive.syncs, naive.seconds),
        walAppends: wal.appends,
        naiveAppends: naive.appends,
      });
    } finally {
      await rm(walDir, { recursive: true, force: true });
      await rm(naiveDir, { recursive: true, force: true });
    }
  }
  const memDir = await prepareMemoryDir(base);
  type Memory = { entries: number; bytesPerEntry: number };
  let memory: Memory | null = null;
  try {
    const res = spawnSync(
      process.execPath,
      ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url)],
      {
        env: { ...process.env, WAL_BENCH_MEMORY_DIR: memDir },
        encoding: "utf8",
      },
    );
    memory = res.status === 0 ? (JSON.parse(res.stdout.trim()) as Memory) : null;
  } finally {
    await rm(memDir, { recursive: true, force: true });
  }

  console.log(
    `WAL on ${base}: ${ENTRY_BYTES}-byte entries, each writer waits for its append to be durable`,
  );
  console.log(
    `(bounded: ${TIME_BUDGET_MS} ms or ${JSON.stringify(MAX_APPENDS)} appends per configuration)\n`,
  );
  console.log(
    "writers   WAL appends/s   WAL fsyncs/s   appends/fsync   naive appends/s   naive fsyncs/s",
  );
  for (const r of rows) {
    console.log(
      `${String(r.writers).padStart(7)}   ${String(r.walAppendsPerSec).padStart(13)}   ${String(r.walSyncsPerSec).padStart(12)}   ${String(r.walAppendsPerSync).padStart(13)}   ${String(r.naiveAppendsPerSec).padStart(15)}   ${String(r.naiveSyncsPerSec).padStart(14)}`,
    );
  }
  console.log("\nnaive = one write + fdatasync per append, no group commit (the peer)");
  console.log(
    memory
      ? `memory held after recovering ${memory.entries} entries: ${memory.bytesPerEntry} bytes/entry (payload ${ENTRY_BYTES})`
      : "memory measurement failed",
  );
  console.log(
    JSON.stringify({
      bench: "wal",
      entryBytes: ENTRY_BYTES,
      dir: base,
      timeBudgetMs: TIME_BUDGET_MS,
      results: rows,
      memory,
    }),
  );
}

await main();
