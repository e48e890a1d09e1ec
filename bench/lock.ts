/**
 * `npm run bench -- lock`: every lock backend side by side, and the npm
 * `redlock` package on the same Redis under the same load.
 *
 *  - uncontended: one client, acquire + release of a free lock in a loop (ops/s);
 *  - contended: 8 clients loop on ONE name; hand-off latency = from the
 *    holder starting release to the next holder's acquire returning (p50/p99).
 *
 * Every loop is bounded by a count and a time limit. Prints a table, then one
 * JSON line with all figures. Needs Redis on :6379, PostgreSQL on :5432 and
 * the redis-server binary (for the 3 Redlock instances it starts itself).
 */

import { createRequire } from "node:module";
import { Redis } from "ioredis";
import { EtcdLockBackend } from "../src/lock/etcd/index.js";
import { LockClient, type TokenType } from "../src/lock/index.js";
import { MemoryLockBackend, MemoryLockStore } from "../src/lock/memory/index.js";
import { PostgresAdvisoryLockBackend } from "../src/lock/postgres/advisory.js";
import { PostgresLockBackend } from "../src/lock/postgres/index.js";
import { RedisLockBackend } from "../src/lock/redis/index.js";
import { RedlockBackend } from "../src/lock/redlock/index.js";
import { ZooKeeperLockBackend } from "../src/lock/zookeeper/index.js";
import { requireSharedPostgres } from "../test/lock/support/postgres.js";
import { RedisServerProcess, requireSharedRedis } from "../test/lock/support/redis-server.js";

/** Uncontended runs alternate between subjects, ROUNDS times, so machine noise hits all alike. */
const ROUNDS = 15;
const ROUND_MAX_OPS = 600;
const ROUND_MAX_MS = 250;
/** Concurrent uncontended: this many loops on distinct names through one client. */
const CONCURRENT_LOOPS = 16;
const CONTENDED_WORKERS = 8;
/** How long each contended holder keeps the lock: time enough for every other worker to be waiting. */
const HOLD_MS = 2;
const CONTENDED_MAX_HANDOFFS = 400;
const CONTENDED_MAX_MS = 4000;
const WAIT_LIMIT_MS = 10_000;
const TTL_MS = 10_000;
const REDIS_URL = "redis://127.0.0.1:6379";
const POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";

/** The least a benchmark needs from a lock library. */
interface Locker {
  acquire(name: string): Promise<{ release(): Promise<unknown> }>;
  close(): Promise<void>;
}

interface Subject {
  readonly name: string;
  readonly note: string;
  create(): Promise<Locker>;
}

interface Result {
  readonly backend: string;
  readonly note: string;
  /** Median over rounds, one acquire+release in flight. */
  readonly uncontendedOpsPerSec: number;
  /** Median over rounds, CONCURRENT_LOOPS loops on distinct names through one client. */
  readonly concurrentOpsPerSec: number;
  readonly handoffP50Ms: number;
  readonly handoffP99Ms: number;
  readonly handoffs: number;
}

const runId = `${process.pid}-${Date.now().toString(36)}`;

function ours(client: () => LockClient<TokenType>): () => Promise<Locker> {
  return async () => {
    const locks = client();
    return {
      acquire: (name) => locks.acquire(name, { ttlMs: TTL_MS, waitMs: WAIT_LIMIT_MS }),
      close: () => locks.close(),
    };
  };
}

/** The npm `redlock` package (v4, callback/bluebird API), typed for what is used here. */
interface NpmRedlock {
  lock(resource: string, ttlMs: number): Promise<{ unlock(): Promise<unknown> }>;
}
type NpmRedlockConstructor = new (
  clients: Redis[],
  options: { retryCount: number; retryDelay: number; retryJitter: number; driftFactor: number },
) => NpmRedlock;
const NpmRedlockClass = createRequire(import.meta.url)("redlock") as NpmRedlockConstructor;

function npmRedlock(urls: string[]): () => Promise<Locker> {
  return async () => {
    const clients = urls.map((u) => new Redis(u));
    // Polling retries as tight as is fair to it: 10 ms +-5 ms, bounded to the wait limit.
    const redlock = new NpmRedlockClass(clients, {
      retryCount: WAIT_LIMIT_MS / 10,
      retryDelay: 10,
      retryJitter: 5,
      driftFactor: 0.01,
    });
    return {
      async acquire(name) {
        const lock = await redlock.lock(name, TTL_MS);
        return { release: () => lock.unlock() };
      },
      async close() {
        for (const c of clients) c.disconnect();
      },
    };
  };
}

interface RoundResult {
  readonly opsPerSec: number;
}

/** One round: `loops` loops of acquire+release on distinct free names. */
async function uncontendedRound(
  locker: Locker,
  subject: string,
  round: number,
  loops: number,
): Promise<RoundResult> {
  const started = performance.now();
  let ops = 0;
  await Promise.all(
    Array.from({ length: loops }, async (_, loop) => {
      const name = `bench/uncontended/${subject}/${runId}/${round}/${loop}`;
      while (ops < ROUND_MAX_OPS * loops && performance.now() - started < ROUND_MAX_MS) {
        const lock = await locker.acquire(name);
        await lock.release();
        ops += 1;
      }
    }),
  );
  return { opsPerSec: ops / ((performance.now() - started) / 1000) };
}

/** Alternates subjects round by round (so load on the machine hits all alike); medians per subject. */
async function uncontended(subjects: Subject[], loops: number): Promise<Map<string, number>> {
  const lockers = await Promise.all(subjects.map((s) => s.create()));
  const samples = subjects.map(() => [] as RoundResult[]);
  try {
    for (let i = 0; i < subjects.length; i++) {
      await uncontendedRound(lockers[i]!, subjects[i]!.name, -1, loops); // warm-up
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < subjects.length; i++) {
        samples[i]!.push(await uncontendedRound(lockers[i]!, subjects[i]!.name, round, loops));
      }
    }
  } finally {
    await Promise.all(lockers.map((l) => l.close()));
  }
  return new Map(subjects.map((s, i) => [s.name, median(samples[i]!.map((r) => r.opsPerSec))]));
}

/**
 * 8 workers on one name. Each holder keeps the lock HOLD_MS, so the others
 * are already waiting when it releases; and a worker that released does not
 * ask again until another worker has taken the lock, so every acquisition is
 * a hand-off to a waiter (not the releaser winning its own lock back).
 * Latency: from the releaser calling release() to the next holder's acquire
 * returning.
 */
async function contended(
  subject: Subject,
): Promise<{ p50: number; p99: number; handoffs: number }> {
  const lockers = await Promise.all(
    Array.from({ length: CONTENDED_WORKERS }, () => subject.create()),
  );
  const name = `bench/contended/${subject.name}/${runId}`;
  const latencies: number[] = [];
  let releaseStartedAt: number | undefined;
  let lastHolder = -1;
  let someoneElseTook: () => void = () => {};
  const stopAt = performance.now() + CONTENDED_MAX_MS;
  const running = () => latencies.length < CONTENDED_MAX_HANDOFFS && performance.now() < stopAt;
  try {
    await Promise.all(
      lockers.map(async (locker, worker) => {
        while (running()) {
          const lock = await locker.acquire(name);
          const acquiredAt = performance.now();
          if (releaseStartedAt !== undefined) latencies.push(acquiredAt - releaseStartedAt);
          lastHolder = worker;
          someoneElseTook();
          const handedOver = new Promise<void>((resolve) => {
            someoneElseTook = resolve;
          });
          await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
          releaseStartedAt = performance.now();
          await lock.release();
          // Wait (bounded) until another worker holds it before competing again.
          while (lastHolder === worker && running()) {
            await Promise.race([handedOver, new Promise((r) => setTimeout(r, 50))]);
          }
        }
        someoneElseTook();
      }),
    );
  } finally {
    await Promise.all(lockers.map((l) => l.close()));
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), handoffs: latencies.length };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const ETCD_URL = process.env.CONCLAVE_ETCD ?? "127.0.0.1:2379";
const ZOOKEEPER_ADDRESS = process.env.CONCLAVE_ZOOKEEPER ?? "127.0.0.1:2181";

async function main(): Promise<void> {
  await requireSharedRedis();
  await requireSharedPostgres(POSTGRES_URL);
  const servers = await Promise.all([0, 1, 2].map(() => RedisServerProcess.start()));
  const redlockUrls = servers.map((s) => s.url);
  const store = new MemoryLockStore();
  const pgPool = { connectionString: POSTGRES_URL, max: 2 };
  const subjects: Subject[] = [
    {
      name: "memory",
      note: "in-process",
      create: ours(() => new LockClient(new MemoryLockBackend({ store }))),
    },
    {
      name: "redis",
      note: "conclave, 1 Redis",
      create: ours(() => new LockClient(new RedisLockBackend({ redis: REDIS_URL }))),
    },
    {
      name: "redis-fair",
      note: "conclave, 1 Redis, fair queue",
      create: ours(() => new LockClient(new RedisLockBackend({ redis: REDIS_URL, fair: true }))),
    },
    { name: "npm-redlock", note: "npm redlock 4, same Redis", create: npmRedlock([REDIS_URL]) },
    {
      name: "redlock-3",
      note: "conclave Redlock, 3 instances",
      create: ours(() => new LockClient(new RedlockBackend({ instances: redlockUrls }))),
    },
    {
      name: "npm-redlock-3",
      note: "npm redlock 4, same 3 instances",
      create: npmRedlock(redlockUrls),
    },
    {
      name: "postgres",
      note: "conclave, lease table",
      create: ours(
        () =>
          new LockClient(new PostgresLockBackend({ connection: pgPool })) as LockClient<TokenType>,
      ),
    },
    {
      name: "etcd",
      note: "conclave, etcd (create_revision queue)",
      create: ours(
        () => new LockClient(new EtcdLockBackend({ etcd: ETCD_URL })) as LockClient<TokenType>,
      ),
    },
    {
      name: "zookeeper",
      note: "conclave, ZooKeeper (sequential znodes)",
      create: ours(
        () =>
          new LockClient(
            new ZooKeeperLockBackend({ connectString: ZOOKEEPER_ADDRESS }),
          ) as LockClient<TokenType>,
      ),
    },
    {
      name: "postgres-advisory",
      note: "conclave, advisory locks",
      create: ours(
        () =>
          new LockClient(
            new PostgresAdvisoryLockBackend({ connection: pgPool }),
          ) as LockClient<TokenType>,
      ),
    },
  ];
  const results: Result[] = [];
  try {
    const sequential = await uncontended(subjects, 1);
    const concurrent = await uncontended(subjects, CONCURRENT_LOOPS);
    for (const subject of subjects) {
      const c = await contended(subject);
      results.push({
        backend: subject.name,
        note: subject.note,
        uncontendedOpsPerSec: Math.round(sequential.get(subject.name)!),
        concurrentOpsPerSec: Math.round(concurrent.get(subject.name)!),
        handoffP50Ms: round(c.p50),
        handoffP99Ms: round(c.p99),
        handoffs: c.handoffs,
      });
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }

  const header = [
    "backend",
    "what",
    "uncontended acq+rel/s",
    `x${CONCURRENT_LOOPS} concurrent acq+rel/s`,
    `hand-off p50 ms (${CONTENDED_WORKERS} workers)`,
    "p99 ms",
    "hand-offs",
  ];
  const rows = results.map((r) => [
    r.backend,
    r.note,
    String(r.uncontendedOpsPerSec),
    String(r.concurrentOpsPerSec),
    r.handoffP50Ms.toFixed(2),
    r.handoffP99Ms.toFixed(2),
    String(r.handoffs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
  const redis = results.find((r) => r.backend === "redis")!;
  const peer = results.find((r) => r.backend === "npm-redlock")!;
  const ratio = redis.uncontendedOpsPerSec / peer.uncontendedOpsPerSec;
  const concurrentRatio = redis.concurrentOpsPerSec / peer.concurrentOpsPerSec;
  console.log(
    `\nconclave redis vs npm redlock on the same Redis, uncontended: ${ratio.toFixed(2)}x sequential, ${concurrentRatio.toFixed(2)}x with ${CONCURRENT_LOOPS} concurrent loops (target >= 1.2x sequential: ${ratio >= 1.2 ? "met" : "NOT met"})`,
  );
  console.log(
    JSON.stringify({
      bench: "lock",
      rounds: ROUNDS,
      concurrentLoops: CONCURRENT_LOOPS,
      contendedWorkers: CONTENDED_WORKERS,
      results,
      redisVsNpmRedlockUncontended: round(ratio),
      redisVsNpmRedlockConcurrent: round(concurrentRatio),
      target: 1.2,
      targetMet: ratio >= 1.2,
    }),
  );
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

await main();
