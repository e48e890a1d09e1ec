/**
 * `npx tsx bench/shards/scale-model.ts [seed]`: a cost model of the sharded
 * tier at scale (up to 100 nodes × 4,096 shards), not a Raft run. It places
 * replicas with planPlacement and reports, as one JSON line:
 *
 * - write throughput as the node count grows, when every node has a CPU and
 *   an fsync budget and the shards' leaders are spread greedily, and its
 *   linearity against 3 nodes;
 * - the bytes moved when one node fails and when one joins, against the
 *   least possible;
 * - the time to re-replicate a failed node's shards when the controller runs
 *   a few copies per node at a time.
 *
 * Everything is computed from the seed: the same options give the same line.
 */
import { pathToFileURL } from "node:url";
import { murmur3U32 } from "../../src/hashring/murmur3.js";
import type { GroupId } from "../../src/shard/keys.js";
import {
  loadsOf,
  type PlacementNode,
  placementDiff,
  planPlacement,
} from "../../src/shard/placement.js";

/**
 * Server CPU per put, one Raft group of 3 members, 64 puts in flight:
 * 0.54 CPU-ms summed over the three members (docs/benchmarks.md, "After the
 * SDK moved to kept-alive node:http…", put x64 server CPU s/1k ops). The
 * bench does not split it by role; the model gives the leader half (it
 * parses and answers the client and sends to each follower) and each
 * follower a quarter (it receives, appends, acknowledges, applies).
 */
export const LEADER_CPU_SECONDS = 0.27e-3;
export const FOLLOWER_CPU_SECONDS = 0.135e-3;
/** A node runs its groups on one event loop: one CPU-second per second. */
export const CPU_BUDGET = 1;
/**
 * Fsyncs a node's disk completes per second: ~2 ms per fsync, an assumed
 * figure for a data-centre SSD with a power-loss-protected cache.
 */
export const FSYNC_BUDGET = 500;
/**
 * Writes one fsync makes durable on a replica under load (group commit: an
 * fsync covers every entry appended while the previous one ran). Assumed,
 * from 64 puts in flight over a ~2 ms fsync; one write costs each replica
 * 1/FSYNC_BATCH of an fsync.
 */
export const FSYNC_BATCH = 16;
/** Data per shard: 4,096 × 256 MiB = 1 TiB of logical data (assumed). */
export const SHARD_BYTES = 256 * 2 ** 20;
/**
 * Catch-up bandwidth per node, 125 MB/s (1 Gbit/s, or a throttle that
 * leaves a faster network to client traffic); each of a node's concurrent
 * copies gets an equal slot of it.
 */
export const NODE_BANDWIDTH = 125e6;
/** Copies the controller runs per node at a time, as sender and as receiver. */
export const MOVES_PER_NODE = 2;

export interface ScaleModelOptions {
  /** Node counts for the throughput curve; failure and join use the largest. */
  readonly nodeCounts?: readonly number[];
  readonly shards?: number;
  readonly replicas?: number;
  readonly seed?: number;
  readonly shardBytes?: number;
  /** Each shard's size is shardBytes × (1 ± up to this fraction), seeded. Default 0.1. */
  readonly sizeVariation?: number;
  readonly movesPerNode?: number;
  readonly bandwidth?: number;
}

export interface Moved {
  readonly bytes: number;
  readonly ideal: number;
  readonly ratio: number;
}

export interface Target {
  readonly name: string;
  readonly value: number;
  readonly goal: string;
  readonly met: boolean;
}

export interface ScaleModelResult {
  readonly kind: "shards-scale-model";
  readonly seed: number;
  readonly shards: number;
  readonly replicas: number;
  readonly nodes: number[];
  /** Writes/s the cluster sustains at each node count. */
  readonly throughput: number[];
  /** (T(n)/n) / (T(first)/first) per node count. */
  readonly linearity: number[];
  /** The last linearity (at 100 nodes in the full-size model). */
  readonly linearityAt100: number;
  readonly movedOnFailure: Moved;
  readonly movedOnJoin: Moved;
  readonly reReplicationSeconds: number;
  readonly targets: Target[];
}

const DEFAULT_NODE_COUNTS = [3, 5, 10, 20, 50, 100];

export function runScaleModel(options: ScaleModelOptions = {}): ScaleModelResult {
  const counts = [...(options.nodeCounts ?? DEFAULT_NODE_COUNTS)];
  const shardCount = options.shards ?? 4096;
  const replicas = options.replicas ?? 3;
  const seed = options.seed ?? 1;
  const variation = options.sizeVariation ?? 0.1;
  const shardBytes = options.shardBytes ?? SHARD_BYTES;
  const groups = Array.from({ length: shardCount }, (_, i) => i + 1);
  // Seeded draws in [0, 1) from the project's murmur3: no separate generator.
  const uniform = (stream: number, i: number) => murmur3U32(i, seed ^ stream) / 2 ** 32;
  const size = new Map(
    groups.map((g) => [g, Math.round(shardBytes * (1 + variation * (2 * uniform(0x5153, g) - 1)))]),
  );
  const bytesOf = (group: GroupId) => size.get(group)!;
  const cluster = (n: number): PlacementNode[] =>
    Array.from({ length: n }, (_, i) => ({ id: i + 1, capacity: 1 }));
  const plan = (current: ReadonlyMap<GroupId, readonly number[]>, nodes: PlacementNode[]) =>
    planPlacement(groups, current, nodes, { replicas });

  const throughput = counts.map((n) => writeThroughput(plan(new Map(), cluster(n)), shardCount));
  const linearity = counts.map((n, i) => throughput[i]! / n / (throughput[0]! / counts[0]!));

  // Failure and join at the largest count, from a settled placement.
  const n = counts.at(-1)!;
  const nodes = cluster(n);
  const before = plan(new Map(), nodes);
  const failed = nodes[Math.floor(uniform(0xfa11, 0) * n)]!.id;
  const afterFailure = plan(
    before,
    nodes.filter((node) => node.id !== failed),
  );
  const failureChanges = placementDiff(before, afterFailure);
  const movedOnFailure = moved(
    failureChanges.reduce((sum, c) => sum + c.add.length * bytesOf(c.group), 0),
    groups.reduce((sum, g) => sum + (before.get(g)!.includes(failed) ? bytesOf(g) : 0), 0),
  );
  const joinChanges = placementDiff(before, plan(before, cluster(n + 1)));
  const replicaBytes = groups.reduce((sum, g) => sum + before.get(g)!.length * bytesOf(g), 0);
  const movedOnJoin = moved(
    joinChanges.reduce((sum, c) => sum + c.add.length * bytesOf(c.group), 0),
    replicaBytes / (n + 1),
  );

  const reReplicationSeconds = copyTime(
    failureChanges.flatMap((c) =>
      c.add.map((to) => ({
        to,
        sources: before.get(c.group)!.filter((id) => id !== failed && !c.remove.includes(id)),
        bytes: bytesOf(c.group),
      })),
    ),
    options.movesPerNode ?? MOVES_PER_NODE,
    options.bandwidth ?? NODE_BANDWIDTH,
  );

  const linearityAt100 = linearity.at(-1)!;
  return {
    kind: "shards-scale-model",
    seed,
    shards: shardCount,
    replicas,
    nodes: counts,
    throughput: throughput.map(Math.round),
    linearity: linearity.map(round3),
    linearityAt100: round3(linearityAt100),
    movedOnFailure,
    movedOnJoin,
    reReplicationSeconds: round3(reReplicationSeconds),
    targets: [
      target(`linearity at ${n} nodes`, linearityAt100, ">= 0.8", linearityAt100 >= 0.8),
      target(
        "bytes moved on failure / ideal",
        movedOnFailure.ratio,
        "<= 1.1",
        movedOnFailure.ratio <= 1.1,
      ),
      target("bytes moved on join / ideal", movedOnJoin.ratio, "<= 1.1", movedOnJoin.ratio <= 1.1),
    ],
  };
}

/**
 * Total writes/s, spread evenly over the shards, at which the busiest node
 * reaches its CPU or fsync budget. Each shard's leader is the replica that
 * leads the fewest shards so far (ties: the lower id), visiting shards in order.
 */
function writeThroughput(
  placement: ReadonlyMap<GroupId, readonly number[]>,
  shards: number,
): number {
  const leads = new Map<number, number>();
  for (const [, ids] of [...placement].sort((a, b) => a[0] - b[0])) {
    let leader = ids[0]!;
    for (const id of ids) {
      const a = leads.get(id) ?? 0;
      const b = leads.get(leader) ?? 0;
      if (a < b || (a === b && id < leader)) leader = id;
    }
    leads.set(leader, (leads.get(leader) ?? 0) + 1);
  }
  let limit = Number.POSITIVE_INFINITY;
  for (const [node, hosted] of loadsOf(placement)) {
    const led = leads.get(node) ?? 0;
    // Per write/s of cluster load, this node works 1/shards of a write per shard it hosts.
    const cpu = (led * LEADER_CPU_SECONDS + (hosted - led) * FOLLOWER_CPU_SECONDS) / shards;
    const fsyncs = hosted / FSYNC_BATCH / shards;
    limit = Math.min(limit, CPU_BUDGET / cpu, FSYNC_BUDGET / fsyncs);
  }
  return limit;
}

interface Copy {
  readonly to: number;
  /** Replicas that hold the data and can send it. */
  readonly sources: readonly number[];
  readonly bytes: number;
}

/**
 * Seconds until every copy is done, simulated in event order: a copy starts
 * as soon as its receiver and one of its sources each have a free slot (the
 * source with the fewest copies running, then the lower id), in the order
 * the controller lists them; a copy runs at bandwidth / slots.
 */
function copyTime(copies: readonly Copy[], slots: number, bandwidth: number): number {
  const sending = new Map<number, number>();
  const receiving = new Map<number, number>();
  const running: { end: number; from: number; to: number }[] = [];
  let pending = [...copies];
  let now = 0;
  while (pending.length > 0 || running.length > 0) {
    const waiting: Copy[] = [];
    for (const copy of pending) {
      const free = copy.sources.filter((id) => (sending.get(id) ?? 0) < slots);
      if ((receiving.get(copy.to) ?? 0) >= slots || free.length === 0) {
        waiting.push(copy);
        continue;
      }
      const from = free.reduce((a, b) => ((sending.get(b) ?? 0) < (sending.get(a) ?? 0) ? b : a));
      sending.set(from, (sending.get(from) ?? 0) + 1);
      receiving.set(copy.to, (receiving.get(copy.to) ?? 0) + 1);
      running.push({ end: now + (copy.bytes * slots) / bandwidth, from, to: copy.to });
    }
    pending = waiting;
    if (running.length === 0) break; // Nothing can ever start (a group with no source left).
    running.sort((a, b) => a.end - b.end || a.to - b.to);
    const done = running.shift()!;
    now = done.end;
    sending.set(done.from, sending.get(done.from)! - 1);
    receiving.set(done.to, receiving.get(done.to)! - 1);
  }
  return now;
}

function moved(bytes: number, ideal: number): Moved {
  return { bytes, ideal: Math.round(ideal), ratio: round3(ideal === 0 ? 1 : bytes / ideal) };
}

function target(name: string, value: number, goal: string, met: boolean): Target {
  return { name, value: round3(value), goal, met };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seed = process.argv[2] === undefined ? 1 : Number(process.argv[2]);
  console.log(JSON.stringify(runScaleModel({ seed })));
}
