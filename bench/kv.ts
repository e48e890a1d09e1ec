/**
 * `npm run bench -- kv [--quick] [...]`: a 3-node Conclave cluster (`conclave
 * serve` from the built dist/, our SDK) against a private 3-member etcd 3.4
 * cluster (npm etcd3 client), both up at once, fsync on for both, same load
 * from this process. The phases interleave system by system (etcd put x1,
 * Conclave put x1, etcd put x16, ...) and the round repeats `--rounds` times,
 * alternating which system goes first; each figure is reported as each
 * system's median and the median of the per-round Conclave/etcd ratios with
 * their spread. After the rounds, once per system: RSS after 100,000 keys,
 * then 1,000,000 keys (RSS, data dir, restart to serving), then 1 MiB values
 * (worst event-loop delay, leader changes). Prints a table, the targets,
 * then one JSON line. Every server started here is stopped by PID, also on
 * error and SIGINT. `--help` lists the flags.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { BUILT_SERVER, prepareServerBuild, startConclaveCluster } from "./kv/conclave-cluster.js";
import { startEtcdCluster } from "./kv/etcd-cluster.js";
import { benchOptionsFromArgv, type SystemName } from "./kv/options.js";
import { jsonLine, printRunReport, summarizeAll } from "./kv/report.js";
import { type InterleavedResult, runInterleaved } from "./kv/rounds.js";
import type { RunningCluster } from "./kv/target.js";
import { checkTargets } from "./kv/targets.js";
import { ProcessGroup } from "./support/processes.js";

const options = benchOptionsFromArgv("kv");

const dataDir = mkdtempSync(join(tmpdir(), "conclave-bench-kv-"));
const group = new ProcessGroup();
const clusters = new Map<SystemName, RunningCluster>();
// The process group stops the servers on a signal and exits; this removes
// their data as well (unless kept).
let interrupted = false;
const onSignal = () => {
  interrupted = true;
};
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);
process.once("exit", () => {
  if (interrupted && !options.keepDataDir) rmSync(dataDir, { recursive: true, force: true });
});

let failed = false;
let result: InterleavedResult | undefined;
try {
  if (options.systems.includes("conclave")) prepareServerBuild(options.build);
  for (const name of options.systems) {
    console.error(`${name}: starting 3 members`);
    const dir = join(dataDir, name);
    clusters.set(
      name,
      name === "etcd"
        ? await startEtcdCluster(group, dir)
        : await startConclaveCluster(group, dir, options.profileArgs, [], BUILT_SERVER),
    );
  }
  result = await runInterleaved(
    clusters,
    options,
    options.phases === undefined ? {} : { roundPhases: options.phases, once: false },
  );
  failed = result.failures.length > 0;
} catch (err) {
  failed = true;
  if (!interrupted) {
    console.error(`bench kv failed: ${err instanceof Error ? (err.stack ?? err.message) : err}`);
  }
} finally {
  for (const cluster of clusters.values()) {
    await cluster.target.close().catch(() => undefined);
    await cluster.stop();
  }
  await group[Symbol.asyncDispose]();
  if (options.keepDataDir || failed) console.error(`data dir (logs, profiles): ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}

const summaries = result === undefined ? [] : summarizeAll(result.rounds, result.once);
const checks = checkTargets(summaries);
if (result !== undefined) printRunReport("kv: 3 members each", options, result, summaries, checks);
console.log(
  jsonLine({
    bench: "kv",
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    conclaveServersFrom: options.systems.includes("conclave") ? "dist" : undefined,
    options,
    loadAverages: result?.loadAverages,
    rounds: result?.rounds,
    once: result?.once,
    figures: summaries,
    failures: result?.failures,
    targets: checks,
  }),
);
process.exitCode = failed ? 1 : 0;
