/**
 * `npm run bench -- etcd-api [--quick] [...]`: the same npm etcd3 client and
 * load against a private 3-member etcd 3.4 cluster and against a 3-node
 * Conclave cluster's etcd-compatible gRPC API (`conclave serve
 * --listen-grpc`, from the built dist/), fsync on for both. The phases of
 * `bench kv` that measure the request path (put at each concurrency,
 * linearizable get, watch delivery) interleave system by system and repeat
 * `--rounds` times; each figure is each system's median and the median of
 * the per-round Conclave/etcd ratios with their spread. Takes `bench kv`'s
 * flags (`--help`); its key-space, lease and snapshot phases are not run.
 * Prints a table, the targets, then one JSON line. Every server started here
 * is stopped by PID, also on error and SIGINT.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { BUILT_SERVER, prepareServerBuild, startConclaveCluster } from "./kv/conclave-cluster.js";
import { etcd3Target, startEtcdCluster } from "./kv/etcd-cluster.js";
import { FIGURE } from "./kv/figures.js";
import { benchOptionsFromArgv, type SystemName } from "./kv/options.js";
import { jsonLine, printRunReport, summarizeAll } from "./kv/report.js";
import { type InterleavedResult, runInterleaved } from "./kv/rounds.js";
import type { RunningCluster } from "./kv/target.js";
import { checkTargets, TARGETS } from "./kv/targets.js";
import { ProcessGroup } from "./support/processes.js";

const options = benchOptionsFromArgv("etcd-api");

/** The request-path phases, as `bench kv` names them. */
const PHASES = [
  "warm-up",
  ...options.putInFlight.map((n) => `put x${n}`),
  `get x${options.getInFlight}`,
  "watch",
];
/** The targets for this API: as for the SDK path, put throughput and CPU per put. */
const API_TARGETS = TARGETS.filter(
  (t) =>
    t.figure === FIGURE.putOps(64) ||
    t.figure === FIGURE.putOps(256) ||
    [1, 16, 64, 256].some((n) => t.figure === FIGURE.putCpu(n)),
);

const dataDir = mkdtempSync(join(tmpdir(), "conclave-bench-etcd-api-"));
const group = new ProcessGroup();
const clusters = new Map<SystemName, RunningCluster>();
/** The SDK targets the Conclave launcher made: replaced here, closed at the end. */
const replaced: RunningCluster["target"][] = [];
let interrupted = false;
const onSignal = () => {
  interrupted = true;
};
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);
process.once("exit", () => {
  if (interrupted && !options.keepDataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function conclaveOverGrpc(dir: string): Promise<RunningCluster> {
  const cluster = await startConclaveCluster(
    group,
    dir,
    options.profileArgs,
    [],
    BUILT_SERVER,
    true,
  );
  const sdk = cluster.target;
  replaced.push(sdk);
  return {
    ...cluster,
    target: etcd3Target({
      name: "conclave",
      endpoints: cluster.grpcEndpoints!,
      pids: sdk.pids,
      dataDirs: sdk.dataDirs,
      fsyncMetric: sdk.fsyncMetric,
      memberStatus: (i, t) => sdk.memberStatus(i, t),
      metricsText: (i, t) => sdk.metricsText(i, t),
    }),
  };
}

let failed = false;
let result: InterleavedResult | undefined;
try {
  if (options.systems.includes("conclave")) prepareServerBuild(options.build);
  for (const name of options.systems) {
    console.error(`${name}: starting 3 members`);
    const dir = join(dataDir, name);
    clusters.set(
      name,
      name === "etcd" ? await startEtcdCluster(group, dir) : await conclaveOverGrpc(dir),
    );
  }
  result = await runInterleaved(clusters, options, { roundPhases: PHASES, once: false });
  failed = result.failures.length > 0;
} catch (err) {
  failed = true;
  if (!interrupted) {
    console.error(
      `bench etcd-api failed: ${err instanceof Error ? (err.stack ?? err.message) : err}`,
    );
  }
} finally {
  for (const target of [...[...clusters.values()].map((c) => c.target), ...replaced]) {
    await target.close().catch(() => undefined);
  }
  for (const cluster of clusters.values()) await cluster.stop();
  await group[Symbol.asyncDispose]();
  if (options.keepDataDir || failed) console.error(`data dir (logs, profiles): ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}

const summaries = result === undefined ? [] : summarizeAll(result.rounds, result.once);
const checks = checkTargets(summaries, API_TARGETS);
if (result !== undefined)
  printRunReport(
    "etcd-api: npm etcd3 against etcd and against Conclave's gRPC API, 3 members each",
    options,
    result,
    summaries,
    checks,
  );
console.log(
  jsonLine({
    bench: "etcd-api",
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    conclaveServersFrom: options.systems.includes("conclave") ? "dist" : undefined,
    options,
    loadAverages: result?.loadAverages,
    rounds: result?.rounds,
    figures: summaries,
    failures: result?.failures,
    targets: checks,
  }),
);
process.exitCode = failed ? 1 : 0;
