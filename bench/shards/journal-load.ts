/**
 * What the shared journal buys a sharded node under write load: the same
 * cluster (3 `conclave serve` nodes on loopback, 16 shards, R = 3, fsync on)
 * with `--shard-journal true` (every group's appends made durable by one
 * journal fdatasync) and `false` (each group syncs its own log), measured
 * side by side: a fresh cluster per phase, the two settings alternating
 * within each round and their order swapped every round, medians over the
 * rounds. Each phase runs W writers through the SDK for a fixed time and
 * reports acknowledged puts per second, put latency (p50, p99) and the
 * nodes' CPU time per put.
 *
 * `npm run bench -- shards --no-real --journal` runs it.
 */
import { ShardedClient } from "../../src/client/sharded/index.js";
import { ServeCluster } from "../../test/server/process/serve-cluster.js";
import { median, percentile } from "../adversary/samplers.js";
import { totalCpuSeconds } from "../support/proc-stats.js";
import { controllerStatus } from "./real-cluster.js";

export interface JournalLoadOptions {
  readonly rounds?: number;
  readonly shards?: number;
  readonly writers?: number;
  /** Load per phase, ms. */
  readonly loadMs?: number;
  readonly log?: (line: string) => void;
}

export interface JournalPhase {
  readonly journal: boolean;
  readonly round: number;
  readonly puts: number;
  readonly putsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time of all nodes per acknowledged put, ms. */
  readonly cpuMsPerPut: number;
  /** fdatasync calls of all nodes (group logs and journals) per acknowledged put. */
  readonly fsyncsPerPut: number;
  /** Log appends of all nodes per fdatasync. */
  readonly appendsPerFsync: number;
  readonly failed: number;
}

export interface JournalLoadResult {
  readonly nodes: 3;
  readonly shards: number;
  readonly writers: number;
  readonly loadMs: number;
  readonly phases: readonly JournalPhase[];
  /** Medians over rounds, journal on / off. */
  readonly ratios: {
    readonly putsPerSecond: number;
    readonly p99: number;
    readonly cpuPerPut: number;
    readonly fsyncsPerPut: number;
  };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export async function measureJournalLoad(o: JournalLoadOptions = {}): Promise<JournalLoadResult> {
  const rounds = o.rounds ?? 3;
  const shards = o.shards ?? 16;
  const writers = o.writers ?? 32;
  const loadMs = o.loadMs ?? 10_000;
  const log = o.log ?? (() => {});
  const phases: JournalPhase[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? [true, false] : [false, true];
    for (const journal of order) {
      const phase = await runPhase(journal, round, shards, writers, loadMs);
      phases.push(phase);
      log(
        `  round ${round}, journal ${journal ? "on " : "off"}: ${phase.putsPerSecond} puts/s, p50 ${phase.p50Ms} ms, p99 ${phase.p99Ms} ms, ${phase.cpuMsPerPut} ms CPU/put, ${phase.fsyncsPerPut} fsyncs/put (${phase.appendsPerFsync} appends each), ${phase.failed} failed`,
      );
    }
  }
  const of = (journal: boolean, f: (p: JournalPhase) => number) =>
    median(phases.filter((p) => p.journal === journal).map(f));
  return {
    nodes: 3,
    shards,
    writers,
    loadMs,
    phases,
    ratios: {
      putsPerSecond: round2(of(true, (p) => p.putsPerSecond) / of(false, (p) => p.putsPerSecond)),
      p99: round2(of(true, (p) => p.p99Ms) / of(false, (p) => p.p99Ms)),
      cpuPerPut: round2(of(true, (p) => p.cpuMsPerPut) / of(false, (p) => p.cpuMsPerPut)),
      fsyncsPerPut: round2(of(true, (p) => p.fsyncsPerPut) / of(false, (p) => p.fsyncsPerPut)),
    },
  };
}

async function runPhase(
  journal: boolean,
  round: number,
  shards: number,
  writers: number,
  loadMs: number,
): Promise<JournalPhase> {
  const cluster = new ServeCluster({
    size: 3,
    heartbeatMs: 50,
    electionMs: 500,
    requestTimeoutMs: 5000,
    extraArgs: ["--shards", String(shards), "--shard-journal", String(journal)],
  });
  let client: ShardedClient | undefined;
  try {
    await cluster.start();
    const deadline = Date.now() + 120_000;
    for (;;) {
      const s = await controllerStatus(cluster, cluster.ids);
      if (s !== undefined && s.groups.length > shards && s.groups.every((g) => g.settled)) break;
      if (Date.now() > deadline) throw new Error("the placement did not settle");
      await new Promise((r) => setTimeout(r, 200));
    }
    const c = new ShardedClient({
      endpoints: cluster.ids.map((id) => cluster.member(id).clientUrl),
      requestTimeoutMs: 10_000,
    });
    client = c;
    // Every shard's leader known to the client before the clock starts.
    for (let i = 0; i < shards * 4; i++) await c.put(`warm/${i}`, "x");
    const pids = cluster.ids.map((id) => cluster.pid(id)!);
    const d0 = await durability(cluster);
    const cpu0 = totalCpuSeconds(pids);
    const latencies: number[] = [];
    let failed = 0;
    const started = performance.now();
    const stopAt = started + loadMs;
    const value = "v".repeat(256);
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let seq = 0; performance.now() < stopAt; seq++) {
          const t = performance.now();
          try {
            await c.put(`w${w}/${seq}`, value);
            latencies.push(performance.now() - t);
          } catch {
            failed++;
          }
        }
      }),
    );
    const elapsedS = (performance.now() - started) / 1000;
    const cpu = totalCpuSeconds(pids) - cpu0;
    const d1 = await durability(cluster);
    const fsyncs = d1.fsyncs - d0.fsyncs;
    latencies.sort((a, b) => a - b);
    return {
      journal,
      round,
      puts: latencies.length,
      putsPerSecond: Math.round(latencies.length / elapsedS),
      p50Ms: round2(percentile(latencies, 50)),
      p99Ms: round2(percentile(latencies, 99)),
      cpuMsPerPut: round2((cpu * 1000) / Math.max(1, latencies.length)),
      fsyncsPerPut: round2(fsyncs / Math.max(1, latencies.length)),
      appendsPerFsync: round2((d1.appends - d0.appends) / Math.max(1, fsyncs)),
      failed,
    };
  } finally {
    client?.close();
    await cluster.destroy();
  }
}

/** fdatasync calls and log appends of every node so far (GET /v3/shard/replicas). */
async function durability(cluster: ServeCluster): Promise<{ fsyncs: number; appends: number }> {
  let fsyncs = 0;
  let appends = 0;
  for (const id of cluster.ids) {
    const res = await fetch(`${cluster.member(id).clientUrl}/v3/shard/replicas`);
    const body = (await res.json()) as {
      durability?: {
        walAppends: number;
        walSegmentSyncs: number;
        journal?: { flushes: number };
      };
    };
    const d = body.durability;
    if (d === undefined) throw new Error(`node ${id} reports no durability counters`);
    fsyncs += d.walSegmentSyncs + (d.journal?.flushes ?? 0);
    appends += d.walAppends;
  }
  return { fsyncs, appends };
}
