/**
 * `npm run bench -- registry [--quick] [...]`: service registration and
 * discovery at scale, Conclave's Registry (over ConclaveClient, servers from
 * the built dist/) against the same pattern done the etcd way on a private
 * 3-member etcd 3.4 (npm etcd3: a lease per instance, one naming-format key
 * per instance, list-then-watch). Both clusters are up at once; each round
 * runs the scenario (bench/registry/scenario.ts) on one system, then on the
 * other, alternating which goes first; figures are each system's median over
 * the rounds and the median of the per-round Conclave/etcd ratios. The
 * registrants and watchers are child processes (bench/registry/*.ts, run
 * with tsx), so a registrant can be SIGKILLed. Prints a table, then one
 * JSON line. Every process started here is stopped by PID, also on error
 * and SIGINT. `--help` lists the flags.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  BUILT_SERVER,
  prepareServerBuild,
  serverCommand,
  startConclaveCluster,
} from "./kv/conclave-cluster.js";
import { startEtcdCluster } from "./kv/etcd-cluster.js";
import { jsonLine } from "./kv/report.js";
import { figureNames, type RoundSample, summarize, systemOrder } from "./kv/stats.js";
import type { RunningCluster } from "./kv/target.js";
import { measureBalancers } from "./registry/balancer-phase.js";
import { registryBenchOptionsFromArgv } from "./registry/options.js";
import type { RegistrySystem } from "./registry/plan.js";
import { printFigures } from "./registry/report.js";
import { runScenario } from "./registry/scenario.js";
import { ProcessGroup } from "./support/processes.js";

const options = registryBenchOptionsFromArgv();

const dataDir = mkdtempSync(join(tmpdir(), "conclave-bench-registry-"));
const clientLogs = join(dataDir, "clients");
mkdirSync(clientLogs, { recursive: true });
const group = new ProcessGroup();
const clusters = new Map<RegistrySystem, RunningCluster>();
let interrupted = false;
const onSignal = () => {
  interrupted = true;
};
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);
process.once("exit", () => {
  if (interrupted && !options.keepDataDir) rmSync(dataDir, { recursive: true, force: true });
});

const rounds: RoundSample[] = [];
const failures: { round: number; system: RegistrySystem; error: string }[] = [];
const loadAverages: number[] = [];
try {
  if (options.systems.includes("conclave")) {
    // A dist/ newer than every source file is used as it is: the build takes a while.
    const upToDate = serverCommand().from === "dist";
    if (upToDate && options.build) console.error("dist/ is newer than src/: not rebuilt");
    prepareServerBuild(options.build && !upToDate);
  }
  for (const name of options.systems) {
    console.error(`${name}: starting 3 members`);
    const dir = join(dataDir, name);
    clusters.set(
      name,
      name === "etcd"
        ? await startEtcdCluster(group, dir)
        : await startConclaveCluster(group, dir, [], [], BUILT_SERVER),
    );
  }
  for (let round = 0; round < options.rounds; round++) {
    loadAverages.push(loadavg()[0]!);
    const order = systemOrder(options.systems, round);
    console.error(`round ${round + 1} of ${options.rounds} (${order.join(" first, then ")})`);
    const sample: Record<string, Record<string, number>> = {};
    for (const system of order) {
      const cluster = clusters.get(system)!;
      const figures: Record<string, number> = {};
      sample[system] = figures;
      try {
        await runScenario(
          { system, endpoints: cluster.endpoints, pids: cluster.target.pids },
          options,
          round + 1,
          clientLogs,
          figures,
        );
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        console.error(`  ${system} round ${round + 1} failed: ${error}`);
        failures.push({ round: round + 1, system, error });
      }
    }
    rounds.push(sample);
  }
  loadAverages.push(loadavg()[0]!);
} catch (err) {
  failures.push({ round: 0, system: "conclave", error: String(err) });
  if (!interrupted) {
    console.error(
      `bench registry failed: ${err instanceof Error ? (err.stack ?? err.message) : err}`,
    );
  }
} finally {
  for (const cluster of clusters.values()) {
    await cluster.target.close().catch(() => undefined);
    await cluster.stop();
  }
  await group[Symbol.asyncDispose]();
  if (options.keepDataDir || failures.length > 0) {
    console.error(`data dir (server and client logs): ${dataDir}`);
  } else {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const summaries = figureNames(rounds).map((name) => summarize(name, rounds));
console.log(
  `\nregistry: 3 members each, both up at once, ${options.rounds} round(s); ` +
    `${options.instances} instances over ${options.services} services from ` +
    `${options.registrants} registrant processes (${options.inFlight} registrations in flight each), ` +
    `TTL ${options.ttlSeconds} s, ${options.services + 3} watches in 4 watcher processes, ` +
    `keep-alive window ${options.steadyMs / 1000} s (idle ${options.idleMs / 1000} s); ` +
    `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}; ` +
    `load average ${loadAverages.map((l) => l.toFixed(1)).join(" → ")}\n`,
);
printFigures(summaries);

// The balancers need no cluster: measured in this process once the clusters are gone.
const balancers = [50, options.instances].map((instances) =>
  measureBalancers({ instances, picks: options.rounds > 1 ? 200_000 : 50_000, rounds: 3 }),
);
console.log(
  "\nbalancers (in process, median of 3): decisions/s; keys moved / ideal on leave, join",
);
for (const b of balancers) {
  const rates = Object.entries(b.decisionsPerSecond)
    .map(([kind, rate]) => `${kind} ${Math.round(rate).toLocaleString("en")}`)
    .join(", ");
  const moved = Object.entries(b.movedVsIdeal)
    .map(([kind, m]) => `${kind} ${m.leave.toFixed(2)}, ${m.join.toFixed(2)}`)
    .join("; ");
  console.log(`  ${b.instances} instances: ${rates}\n    moved/ideal: ${moved}`);
}
for (const f of failures) console.log(`failed: round ${f.round}, ${f.system}: ${f.error}`);
console.log(
  jsonLine({
    bench: "registry",
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    conclaveServersFrom: options.systems.includes("conclave") ? "dist" : undefined,
    options,
    loadAverages,
    rounds,
    figures: summaries,
    balancers,
    failures,
  }),
);
process.exitCode = failures.length > 0 ? 1 : 0;
