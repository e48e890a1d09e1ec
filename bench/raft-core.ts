/**
 * `npm run bench -- raft-core`: the ceiling of the Raft core alone. A 3-node
 * cluster with in-memory storage and a zero-latency, synchronous network;
 * 128-byte entries proposed in batches of 1, 64 and 1024. Prints entries
 * committed per second and heap bytes allocated per entry, then one JSON line.
 *
 * Allocation is measured in a child process with a young generation large
 * enough that no garbage collection runs during the measured window, so the
 * growth of the heap is the bytes allocated.
 */
import { spawnSync } from "node:child_process";
import { PerformanceObserver } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { bootstrapLog } from "../src/raft/core/bootstrap.js";
import { Xoshiro128 } from "../src/raft/core/prng.js";
import { RawNode } from "../src/raft/core/rawnode.js";
import type { Message } from "../src/raft/core/types.js";
import { Role } from "../src/raft/core/types.js";
import { MemoryStorage } from "../src/raft/storage/memory.js";

const ENTRY_BYTES = 128;
const BATCHES = [1, 64, 1024] as const;

interface Cluster {
  nodes: Map<number, { raw: RawNode; disk: MemoryStorage }>;
  leader: number;
}

function makeCluster(): Cluster {
  const ids = [1, 2, 3];
  const { entries, hardState } = bootstrapLog(ids);
  const rng = new Xoshiro128(42);
  const nodes = new Map<number, { raw: RawNode; disk: MemoryStorage }>();
  for (const id of ids) {
    const disk = new MemoryStorage();
    disk.append(entries);
    disk.setHardState(hardState);
    nodes.set(id, {
      disk,
      raw: new RawNode({
        id,
        storage: disk,
        random: rng.fork(),
        maxInflightMsgs: 4096,
        maxUncommittedBytes: 0,
      }),
    });
  }
  const c = { nodes, leader: 1 };
  settle(c);
  // Fresh nodes grant no votes for one election timeout (they may hold a lease).
  for (let i = 0; i < 10; i++) for (const n of nodes.values()) n.raw.tick();
  settle(c);
  nodes.get(1)!.raw.campaign();
  settle(c);
  if (nodes.get(1)!.raw.status().role !== Role.Leader) throw new Error("no leader");
  return c;
}

/** Processes every Ready and delivers every message until quiet. Returns entries committed at the leader. */
function settle(c: Cluster): void {
  for (;;) {
    const out: Message[] = [];
    for (const { raw, disk } of c.nodes.values()) {
      if (!raw.hasReady()) continue;
      const rd = raw.ready();
      disk.append(rd.entries);
      if (rd.hardState) disk.setHardState(rd.hardState);
      for (const m of rd.messages) out.push(m);
      raw.advance();
      // Keep the log bounded as a real node's snapshots would.
      const applied = raw.status().applied;
      if (applied - disk.firstIndex() > 50_000) disk.compact(applied - 10_000);
    }
    if (out.length === 0) return;
    for (const m of out) c.nodes.get(m.to)!.raw.step(m);
  }
}

function run(batch: number, totalEntries: number): { entriesPerSec: number; committed: number } {
  const c = makeCluster();
  const leader = c.nodes.get(c.leader)!.raw;
  const payload = new Uint8Array(ENTRY_BYTES).fill(7);
  const start0 = leader.status().commit;
  const t0 = performance.now();
  for (let done = 0; done < totalEntries; done += batch) {
    for (let i = 0; i < batch; i++) leader.propose(payload);
    settle(c);
  }
  const ms = performance.now() - t0;
  const committed = leader.status().commit - start0;
  if (committed < totalEntries) throw new Error(`only ${committed} of ${totalEntries} committed`);
  return { entriesPerSec: Math.round(committed / (ms / 1000)), committed };
}

function measureAllocation(batch: number, entries: number): number {
  const c = makeCluster();
  const leader = c.nodes.get(c.leader)!.raw;
  const payload = new Uint8Array(ENTRY_BYTES).fill(7);
  let gcs = 0;
  const obs = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  obs.observe({ entryTypes: ["gc"] });
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.memoryUsage().heapUsed;
  gcs = 0;
  for (let done = 0; done < entries; done += batch) {
    for (let i = 0; i < batch; i++) leader.propose(payload);
    settle(c);
  }
  const after = process.memoryUsage().heapUsed;
  obs.disconnect();
  return gcs > 0 ? Number.NaN : Math.round((after - before) / entries);
}

const child = process.env.RAFT_BENCH_ALLOC_CHILD;
if (child !== undefined) {
  const batch = Number(child);
  process.stdout.write(`${measureAllocation(batch, batch === 1 ? 5_000 : 20_000)}\n`);
} else {
  const total = Number(process.env.RAFT_BENCH_ENTRIES ?? 200_000);
  const rows: { batch: number; entriesPerSec: number; heapBytesPerEntry: number | null }[] = [];
  run(64, 20_000); // warm up the JIT
  for (const batch of BATCHES) {
    const { entriesPerSec } = run(batch, batch === 1 ? Math.min(total, 50_000) : total);
    const res = spawnSync(
      process.execPath,
      [
        "--expose-gc",
        "--max-semi-space-size=1024",
        "--import",
        "tsx",
        fileURLToPath(import.meta.url),
      ],
      { env: { ...process.env, RAFT_BENCH_ALLOC_CHILD: String(batch) }, encoding: "utf8" },
    );
    const bytes = Number(res.stdout.trim());
    rows.push({ batch, entriesPerSec, heapBytesPerEntry: Number.isFinite(bytes) ? bytes : null });
  }
  console.log("raft core, 3 nodes, in-memory storage, zero-latency network, 128-byte entries\n");
  console.log("batch   entries committed/s   heap bytes allocated/entry");
  for (const r of rows) {
    console.log(
      `${String(r.batch).padStart(5)}   ${String(r.entriesPerSec).padStart(19)}   ${String(r.heapBytesPerEntry ?? "n/a (GC ran)").padStart(26)}`,
    );
  }
  console.log(
    JSON.stringify({ bench: "raft-core", entryBytes: ENTRY_BYTES, nodes: 3, results: rows }),
  );
}
