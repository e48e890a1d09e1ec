/**
 * The etcd, Conclave and ZooKeeper lock backends side by side, with each
 * server's bare minimum next to them (etcd3's own lock recipe; a ZooKeeper
 * ephemeral znode created and deleted on an open session). The etcd and
 * conclave backends are one recipe over two stores.
 *
 *   npm run bench -- lock-consensus-backends [uncontendedRounds] [handoffsPerWorker] [systems]
 *
 * `systems`: a comma list of etcd, conclave, zookeeper (default all three).
 * Conclave runs as three `conclave serve` processes (WAL on disk, fsync on),
 * reached over HTTP through ConclaveClient.
 *
 * - uncontended: one client acquires and releases a free mutex, sequentially;
 * - contended: 8 clients (each with its own connections) loop on one mutex;
 *   a hand-off is the time from the holder starting its release to the next
 *   holder being granted.
 *
 * Needs the shared etcd (127.0.0.1:2379) and ZooKeeper (127.0.0.1:2181):
 * `bash .ci/services.sh`. Every loop is bounded in count and in time.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { ConclaveLockBackend } from "../src/lock/conclave/index.js";
import { EtcdLockBackend } from "../src/lock/etcd/index.js";
import { type LockBackend, LockClient } from "../src/lock/index.js";
import { ZooKeeperLockBackend } from "../src/lock/zookeeper/index.js";
import { ZK_CREATE_MODE } from "../src/lock/zookeeper/library.js";
import { ZkSession } from "../src/lock/zookeeper/session.js";
import { startConclaveCluster } from "./kv/conclave-cluster.js";
import { ProcessGroup } from "./support/processes.js";

const ETCD = "127.0.0.1:2379";
const ZOOKEEPER = "127.0.0.1:2181";
const WORKERS = 8;
const TTL_MS = 10_000;
const TIME_LIMIT_MS = 20_000;

const uncontendedRounds = positiveArg(process.argv[2], 200);
const handoffsPerWorker = positiveArg(process.argv[3], 25);
const SYSTEMS = ["etcd", "conclave", "zookeeper"] as const;
const systems = (process.argv[4] ?? SYSTEMS.join(",")).split(",");
for (const system of systems) {
  if (!(SYSTEMS as readonly string[]).includes(system)) {
    console.error(`systems must be a comma list of ${SYSTEMS.join(", ")}; got ${system}`);
    process.exit(2);
  }
}

function positiveArg(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`expected a positive integer, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return value;
}

interface Sample {
  readonly ops: number;
  readonly elapsedMs: number;
  readonly latenciesMs: number[];
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** Sequential acquire+release of a free lock, `rounds` times or until the time limit. */
async function uncontended(cycle: (i: number) => Promise<void>, rounds: number): Promise<Sample> {
  const latenciesMs: number[] = [];
  const started = performance.now();
  for (let i = 0; i < rounds && performance.now() - started < TIME_LIMIT_MS; i++) {
    const t0 = performance.now();
    await cycle(i);
    latenciesMs.push(performance.now() - t0);
  }
  return { ops: latenciesMs.length, elapsedMs: performance.now() - started, latenciesMs };
}

/** WORKERS clients loop on one lock; returns the hand-off latencies. */
async function contended(clients: LockClient<bigint>[], name: string): Promise<Sample> {
  const latenciesMs: number[] = [];
  let releaseStartedAt: number | undefined;
  let grants = 0;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      for (let i = 0; i < handoffsPerWorker; i++) {
        if (performance.now() - started > TIME_LIMIT_MS) return;
        const lock = await client.acquire(name, { ttlMs: TTL_MS, waitMs: TIME_LIMIT_MS });
        const grantedAt = performance.now();
        if (releaseStartedAt !== undefined) latenciesMs.push(grantedAt - releaseStartedAt);
        grants += 1;
        releaseStartedAt = performance.now();
        await lock.release();
      }
    }),
  );
  return { ops: grants, elapsedMs: performance.now() - started, latenciesMs };
}

interface Row {
  readonly system: string;
  readonly what: string;
  readonly sample: Sample;
  readonly unit: "cycle" | "hand-off";
}

const rows: Row[] = [];
const stamp = `${process.pid}-${Date.now()}`;

/** Uncontended cycles and contended hand-offs of one key-queue backend (etcd or conclave). */
async function keyspaceBackend(
  system: string,
  what: string,
  backend: () => LockBackend<bigint>,
): Promise<void> {
  const locks = new LockClient(backend());
  const sample = await uncontended(async (i) => {
    const lock = await locks.acquire(`bench/${system}/free/${stamp}/${i % 4}`, { ttlMs: TTL_MS });
    await lock.release();
  }, uncontendedRounds);
  rows.push({ system, what, sample, unit: "cycle" });
  await locks.close();

  const clients = Array.from({ length: WORKERS }, () => new LockClient(backend()));
  const handoffs = await contended(clients, `bench/${system}/contended/${stamp}`);
  rows.push({ system, what, sample: handoffs, unit: "hand-off" });
  await Promise.all(clients.map((c) => c.close()));
}

// etcd: the conclave backend, then etcd3's own lock recipe (no fencing, no queue, no re-check).
if (systems.includes("etcd")) {
  await keyspaceBackend(
    "etcd",
    "conclave EtcdLockBackend",
    () => new EtcdLockBackend({ etcd: ETCD }),
  );
  const raw = new Etcd3({ hosts: ETCD });
  const peer = await uncontended(async (i) => {
    const lock = raw.lock(`bench/etcd3-lock/${stamp}/${i % 4}`).ttl(Math.ceil(TTL_MS / 1000));
    await lock.acquire();
    await lock.release();
  }, uncontendedRounds);
  rows.push({ system: "etcd", what: "etcd3 npm Lock (peer)", sample: peer, unit: "cycle" });
  raw.close();
}

// Conclave: the same recipe over ConclaveClient and three `conclave serve`
// processes with their WALs on disk (fsync on), as etcd has.
if (systems.includes("conclave")) {
  const dataDir = mkdtempSync(join(tmpdir(), "conclave-bench-lock-"));
  await using group = new ProcessGroup();
  const cluster = await startConclaveCluster(group, dataDir, []);
  try {
    await keyspaceBackend(
      "conclave",
      "conclave ConclaveLockBackend",
      () => new ConclaveLockBackend({ endpoints: cluster.endpoints }),
    );
  } finally {
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ZooKeeper: the conclave backend (a session per acquisition), then the bare znode round trip.
if (systems.includes("zookeeper")) {
  const locks = new LockClient(new ZooKeeperLockBackend({ connectString: ZOOKEEPER }));
  const sample = await uncontended(async (i) => {
    const lock = await locks.acquire(`bench/zk/free/${stamp}/${i % 4}`, { ttlMs: TTL_MS });
    await lock.release();
  }, uncontendedRounds);
  rows.push({ system: "zookeeper", what: "conclave ZooKeeperLockBackend", sample, unit: "cycle" });
  await locks.close();

  const session = await ZkSession.open({
    connectString: ZOOKEEPER,
    requestedTimeoutMs: TTL_MS,
    operationTimeoutMs: 5000,
    clock: { now: () => performance.now(), setTimer: () => () => {} },
  });
  const parent = `/conclave/bench/${stamp}`;
  await session.mkdirp(parent, "bench");
  const peer = await uncontended(async () => {
    const path = await session.create(
      `${parent}/n-`,
      Buffer.alloc(0),
      ZK_CREATE_MODE.EPHEMERAL_SEQUENTIAL,
      "bench",
    );
    await session.remove(path, "bench");
  }, uncontendedRounds);
  rows.push({
    system: "zookeeper",
    what: "bare ephemeral znode create+delete (floor)",
    sample: peer,
    unit: "cycle",
  });
  await session.remove(parent, "bench");
  await session.close();

  const clients = Array.from(
    { length: WORKERS },
    () => new LockClient(new ZooKeeperLockBackend({ connectString: ZOOKEEPER })),
  );
  const handoffs = await contended(clients, `bench/zk/contended/${stamp}`);
  rows.push({
    system: "zookeeper",
    what: "conclave ZooKeeperLockBackend",
    sample: handoffs,
    unit: "hand-off",
  });
  await Promise.all(clients.map((c) => c.close()));
}

const table = rows.map((r) => ({
  system: r.system,
  measured: r.unit === "cycle" ? "uncontended acquire+release" : `contended, ${WORKERS} workers`,
  what: r.what,
  count: r.unit === "cycle" ? r.sample.ops : r.sample.latenciesMs.length,
  "ops/s": round2((r.sample.ops / r.sample.elapsedMs) * 1000),
  "p50 ms": round2(percentile(r.sample.latenciesMs, 50)),
  "p99 ms": round2(percentile(r.sample.latenciesMs, 99)),
  unit: r.unit,
}));
console.table(table);

const figure = (system: string, what: string, unit: Row["unit"]) =>
  table.find((t) => t.system === system && t.what.startsWith(what) && t.unit === unit);
const figures: Record<string, number | string> = { bench: "lock-consensus-backends" };
const add = (
  prefix: string,
  row: (typeof table)[number] | undefined,
  keys: Record<string, keyof (typeof table)[number]>,
) => {
  if (row === undefined) return;
  for (const [suffix, key] of Object.entries(keys)) figures[`${prefix}${suffix}`] = row[key];
};
const cycle = {
  UncontendedOpsPerSec: "ops/s",
  UncontendedP50Ms: "p50 ms",
  UncontendedP99Ms: "p99 ms",
} as const;
const handoff = {
  HandoffP50Ms: "p50 ms",
  HandoffP99Ms: "p99 ms",
  ContendedGrantsPerSec: "ops/s",
} as const;
figures["workers"] = WORKERS;
add("etcd", figure("etcd", "conclave", "cycle"), cycle);
add("etcd3Lock", figure("etcd", "etcd3", "cycle"), {
  UncontendedOpsPerSec: "ops/s",
  UncontendedP50Ms: "p50 ms",
});
add("etcd", figure("etcd", "conclave", "hand-off"), handoff);
add("conclave", figure("conclave", "conclave", "cycle"), cycle);
add("conclave", figure("conclave", "conclave", "hand-off"), handoff);
add("zookeeper", figure("zookeeper", "conclave", "cycle"), cycle);
add("zookeeperBareZnode", figure("zookeeper", "bare", "cycle"), {
  OpsPerSec: "ops/s",
  P50Ms: "p50 ms",
});
add("zookeeper", figure("zookeeper", "conclave", "hand-off"), handoff);
console.log(JSON.stringify(figures));
