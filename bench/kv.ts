/**
 * `npm run bench -- kv [--quick] [...]`: a 3-node Conclave cluster (`conclave
 * serve` processes, our SDK) against a private 3-member etcd 3.4 cluster (npm
 * etcd3 client), same load from this process, fsync on for both, one system
 * at a time. Puts of 256-byte values over 10,000 keys at 1/16/64/256 in
 * flight, linearizable gets at 64, watch events/s to 10 watchers, RSS per
 * node after 100,000 keys; ops/s, p50/p99, server CPU per 1,000 ops. Prints
 * a table, the targets, then one JSON line. Every server started here is
 * stopped by PID, also on error and SIGINT. `--help` lists the flags.
 * The in-process state machine bench is `kv-store`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { serverCommand, startConclaveCluster } from "./kv/conclave-cluster.js";
import { startEtcdCluster } from "./kv/etcd-cluster.js";
import { OptionsError, parseKvBenchOptions, type SystemName, USAGE } from "./kv/options.js";
import { runPhases, type SystemResult } from "./kv/phases.js";
import { buildRows, checkTargets, jsonLine, printTable } from "./kv/report.js";
import type { RunningCluster } from "./kv/target.js";
import { ProcessGroup } from "./support/processes.js";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log(USAGE);
  process.exit(0);
}
let options: ReturnType<typeof parseKvBenchOptions>;
try {
  options = parseKvBenchOptions(process.argv.slice(2), process.env);
} catch (err) {
  if (!(err instanceof OptionsError)) throw err;
  console.error(`${err.message}\n${USAGE}`);
  process.exit(2);
}

const dataDir = mkdtempSync(join(tmpdir(), "conclave-bench-kv-"));
const group = new ProcessGroup();
const results = new Map<SystemName, SystemResult>();
// The process group stops the servers on a signal and exits; this removes
// their data as well (unless kept) and quiets the phase that was cut short.
let interrupted = false;
const onSignal = () => {
  interrupted = true;
};
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);
process.once("exit", () => {
  if (interrupted && !options.keepDataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function start(name: SystemName): Promise<RunningCluster> {
  const dir = join(dataDir, name);
  if (name === "etcd") return startEtcdCluster(group, dir);
  return startConclaveCluster(group, dir, options.profileArgs);
}

let failed = false;
try {
  for (const name of options.systems) {
    console.error(`${name}: starting 3 nodes`);
    const cluster = await start(name);
    try {
      results.set(name, await runPhases(cluster.target, options));
    } finally {
      await cluster.target.close().catch(() => undefined);
      await cluster.stop();
    }
  }
} catch (err) {
  failed = true;
  if (!interrupted) {
    console.error(`bench kv failed: ${err instanceof Error ? (err.stack ?? err.message) : err}`);
  }
} finally {
  await group[Symbol.asyncDispose]();
  if (options.keepDataDir || failed) console.error(`data dir (logs, profiles): ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}

const etcd = results.get("etcd");
const conclave = results.get("conclave");
const checks = checkTargets(etcd, conclave);
if (results.size > 0) {
  console.log(
    `\nkv: 3 nodes each, ${options.valueBytes}-byte values, ${options.keySpace} keys, ` +
      `${options.opsPerPhase} ops or ${options.phaseTimeMs / 1000} s per phase; ` +
      `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}\n`,
  );
  printTable(buildRows(etcd, conclave), checks);
}
console.log(
  jsonLine({
    bench: "kv",
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    conclaveServersFrom: options.systems.includes("conclave") ? serverCommand().from : undefined,
    options,
    etcd,
    conclave,
    targets: checks,
  }),
);
process.exitCode = failed ? 1 : 0;
