/**
 * `npm run bench -- shards [--nodes 5] [--shards 64] [--writers 16] [--no-real] [--idle] [--journal]`
 *
 * 1. The scale model (bench/shards/scale-model.ts): 100 nodes × 4,096
 *    shards, cost-modelled: write throughput from 3 to 100 nodes, bytes
 *    moved on a failure and a join against the ideal, re-replication time.
 * 2. Real processes on this machine (bench/shards/real-cluster.ts):
 *    `conclave serve --shards` nodes under load; the controller's node is
 *    killed with SIGKILL and every shard must come back to 3 replicas by
 *    itself; a node joins and shards move to it; every acknowledged write
 *    is read back.
 * 3. With --idle (bench/shards/idle-cost.ts): the memory and CPU an idle
 *    group costs a node, 3 nodes at 1, 16, 64 and 256 shards, with idle
 *    groups going quiet and with every group ticking.
 * 4. With --journal (bench/shards/journal-load.ts): write load on 3 nodes
 *    with the shared journal on and off, side by side.
 *
 * Prints a table, then one JSON line with every figure and `targets`.
 */
import { parseArgs } from "node:util";
import { measureIdleGroups } from "./shards/idle-cost.js";
import { measureJournalLoad } from "./shards/journal-load.js";
import { runRealShardScenario } from "./shards/real-cluster.js";
import { runScaleModel } from "./shards/scale-model.js";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "5" },
    shards: { type: "string", default: "64" },
    writers: { type: "string", default: "16" },
    "failure-timeout-ms": { type: "string", default: "5000" },
    "no-real": { type: "boolean", default: false },
    idle: { type: "boolean", default: false },
    journal: { type: "boolean", default: false },
  },
  strict: true,
});

const model = runScaleModel();
console.log("scale model (100 nodes x 4,096 shards, R = 3):");
for (const [i, n] of model.nodes.entries()) {
  console.log(
    `  ${String(n).padStart(3)} nodes: ${String(model.throughput[i]).padStart(7)} writes/s, linearity ${model.linearity[i]}`,
  );
}
console.log(
  `  bytes moved on a failure: ${model.movedOnFailure.ratio}x ideal; on a join: ${model.movedOnJoin.ratio}x ideal; re-replication ${model.reReplicationSeconds} s`,
);

const targets = [...model.targets];
let real: Awaited<ReturnType<typeof runRealShardScenario>> | undefined;
if (!values["no-real"]) {
  real = await runRealShardScenario({
    nodes: Number(values.nodes),
    shards: Number(values.shards),
    writers: Number(values.writers),
    failureTimeoutMs: Number(values["failure-timeout-ms"]),
    maxMoving: 16,
    warmupMs: 5000,
    settleTimeoutMs: 180_000,
    log: (line) => console.error(line),
  });
  console.log(`real processes (${real.nodes} nodes, ${real.shards} shards):`);
  console.log(
    `  writes acknowledged ${real.writes.acknowledged} (${real.writes.perSecond}/s), failed ${real.writes.failed}, lost ${real.lostWrites}`,
  );
  console.log(
    `  kill -9 node ${real.kill.node} (controller) holding ${real.kill.replicasLost} replicas: back to 3 replicas everywhere in ${real.kill.reReplicatedMs} ms`,
  );
  console.log(
    `  node ${real.join.node} joins: ${real.join.replicasMoved} replicas moved (fair share ${real.join.idealReplicas}, ${real.join.movedOverIdeal}x), ${real.join.movedElsewhere} elsewhere, settled in ${real.join.settledMs} ms`,
  );
  targets.push(
    {
      name: "real: acknowledged writes lost",
      value: real.lostWrites,
      goal: "0",
      met: real.lostWrites === 0,
    },
    {
      name: "real: every shard back to 3 replicas after kill -9",
      value: real.fullyReplicated ? 1 : 0,
      goal: "1",
      met: real.fullyReplicated,
    },
    {
      name: "real: replicas moved on a join / fair share",
      value: real.join.movedOverIdeal,
      goal: "<= 1.1",
      met: real.join.movedOverIdeal <= 1.1,
    },
  );
}
let idle: Awaited<ReturnType<typeof measureIdleGroups>> | undefined;
if (values.idle) {
  idle = await measureIdleGroups({ log: (line) => console.error(line) });
  console.log(`idle groups (3 nodes, R = 3, heartbeat ${idle.heartbeatMs} ms, from ${idle.from}):`);
  for (const m of idle.measurements) {
    const mean = (f: (n: (typeof m.nodes)[number]) => number) =>
      Math.round((m.nodes.reduce((s, n) => s + f(n), 0) / m.nodes.length) * 10) / 10;
    console.log(
      `  ${String(m.shards).padStart(3)} shards, quiesce ${m.quiesceTicks}: ${mean((n) => n.groups)} groups/node, RSS ${mean((n) => n.rssMiB)} MiB, CPU ${mean((n) => n.cpuPercent)}% of a core, ${mean((n) => n.writeCallsPerSecond ?? 0)} writes/s (per node, mean)`,
    );
  }
  for (const { quiesceTicks, slope } of idle.lines) {
    console.log(
      `  quiesce ${quiesceTicks}, per extra group: ${slope.rssKiBPerGroup} KiB RSS, ${slope.cpuPercentPerGroup}% of a core, ${slope.writeCallsPerSecondPerGroup ?? "?"} writes/s; at 0 groups ${slope.rssMiBAtZero} MiB, ${slope.cpuPercentAtZero}%`,
    );
  }
}
let journal: Awaited<ReturnType<typeof measureJournalLoad>> | undefined;
if (values.journal) {
  console.log("shared journal under write load (3 nodes, 16 shards, R = 3, 32 writers):");
  journal = await measureJournalLoad({ log: (line) => console.log(line) });
  console.log(
    `  journal on / off, medians: puts/s ${journal.ratios.putsPerSecond}x, p99 ${journal.ratios.p99}x, CPU per put ${journal.ratios.cpuPerPut}x`,
  );
}
console.log(
  JSON.stringify({
    kind: "shards",
    model,
    ...(real !== undefined && { real }),
    ...(idle !== undefined && { idle }),
    ...(journal !== undefined && { journal }),
    targets,
  }),
);
