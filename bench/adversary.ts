/**
 * `npm run bench -- adversary [--quick] [...]`: a 3-member `conclave serve`
 * cluster (fsync on) under misuse, in rounds that interleave two phases:
 *
 * (a) 1,000 watchers that never read on the leader, then 1 MiB puts: the
 *     leader's RSS peak against its configured total watch budget plus a
 *     fixed margin, /status latency meanwhile, and whether each watcher was
 *     cut (a sample is read at the end for its WATCH_TOO_SLOW);
 * (b) a flood of connections that send a few bytes and stall, to every
 *     member's client and peer ports (bounded count and time), while writes
 *     run: does the leader stay in place, do writes keep succeeding.
 *
 * Prints a table (each round, then the median) and one JSON line. Every
 * server started here is stopped by PID, also on error and SIGINT.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { ConclaveClient } from "../src/client/index.js";
import { runFloodPhase } from "./adversary/flood-phase.js";
import { OptionsError, parseAdversaryOptions, USAGE } from "./adversary/options.js";
import { medians, printTable, type RoundResult, verdicts } from "./adversary/report.js";
import { runWatchPhase } from "./adversary/watch-phase.js";
import { serverCommand, startConclaveCluster } from "./kv/conclave-cluster.js";
import { ProcessGroup } from "./support/processes.js";
import { waitFor } from "./support/wait.js";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log(USAGE);
  process.exit(0);
}
let options: ReturnType<typeof parseAdversaryOptions>;
try {
  options = parseAdversaryOptions(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof OptionsError)) throw err;
  console.error(`${err.message}\n${USAGE}`);
  process.exit(2);
}

const dataDir = mkdtempSync(join(tmpdir(), "conclave-bench-adversary-"));
const group = new ProcessGroup();
const rounds: RoundResult[] = [];
// Other work on the machine stretches every latency here; the load says how much there was.
const loadAtStart = loadavg()[0]!;
let failed = false;

async function leaderIndex(endpoints: readonly string[]): Promise<number> {
  let index = -1;
  await waitFor("a leader", 30_000, async () => {
    const res = await fetch(`${endpoints[0]}/status`, { signal: AbortSignal.timeout(5_000) });
    const { leader } = (await res.json()) as { leader: number | null };
    // Members are started as node ids 1..3 in endpoint order.
    index = leader === null ? -1 : leader - 1;
    return index >= 0;
  });
  return index;
}

try {
  const dir = join(dataDir, "conclave");
  mkdirSync(dir, { recursive: true });
  console.error("adversary: starting 3 conclave members");
  const cluster = await startConclaveCluster(
    group,
    dir,
    [],
    [
      `--max-total-watch-bytes=${options.watchBudgetBytes}`,
      `--max-watchers-per-client=${options.watchers}`,
      // The sampled streams are read only once the puts are done.
      "--watch-end-grace-ms=60000",
    ],
  );
  const client = new ConclaveClient({ endpoints: [...cluster.endpoints] });
  try {
    const peerAddresses = (await client.memberList()).members.flatMap((m) =>
      m.peerURLs.map((u) => u.replace(/^[a-z]+:\/\//, "")),
    );
    for (let round = 1; round <= options.rounds; round++) {
      const leader = await leaderIndex(cluster.endpoints);
      const member = { url: cluster.endpoints[leader]!, pid: cluster.target.pids[leader]! };
      console.error(`round ${round}: ${options.watchers} stalled watchers on member ${leader + 1}`);
      const watch = await runWatchPhase(member, client, `adversary/watch/${round}`, options);
      console.error(`round ${round}: flood of ${options.floodConnections} connections`);
      const flood = await runFloodPhase(
        { clientUrls: cluster.endpoints, peerAddresses },
        client,
        options,
      );
      rounds.push({ watch, flood });
    }
  } finally {
    await client.close().catch(() => undefined);
    await cluster.target.close().catch(() => undefined);
    await cluster.stop();
  }
} catch (err) {
  failed = true;
  console.error(
    `bench adversary failed: ${err instanceof Error ? (err.stack ?? err.message) : err}`,
  );
} finally {
  await group[Symbol.asyncDispose]();
  if (options.keepDataDir || failed) console.error(`data dir (logs): ${dataDir}`);
  else rmSync(dataDir, { recursive: true, force: true });
}

const loadAtEnd = loadavg()[0]!;
if (rounds.length > 0) {
  console.log(
    `\nadversary: 3 members, ${options.watchers} stalled watchers + ${options.puts} x 1 MiB puts, ` +
      `watch budget ${options.watchBudgetBytes / 1024 / 1024} MiB + margin ${options.marginBytes / 1024 / 1024} MiB; ` +
      `flood of ${options.floodConnections} connections for ${options.floodMs / 1000} s; ` +
      `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}; ` +
      `1-min load ${loadAtStart.toFixed(1)} at start, ${loadAtEnd.toFixed(1)} at end\n`,
  );
  printTable(rounds);
}
console.log(
  JSON.stringify({
    bench: "adversary",
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    loadAverage1m: { start: loadAtStart, end: loadAtEnd },
    serversFrom: serverCommand().from,
    options,
    medians: rounds.length > 0 ? medians(rounds) : undefined,
    verdicts: rounds.length > 0 ? verdicts(rounds) : undefined,
    rounds,
  }),
);
process.exitCode = failed ? 1 : 0;
