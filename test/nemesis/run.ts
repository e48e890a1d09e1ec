/**
 * One nemesis run on `conclave serve`: start a cluster (fsync on, as
 * shipped), run the workload under the seeded fault schedule, heal, restart
 * every member, read every key and judge the history. Everything it starts
 * is ended by PID and removed before it returns, pass or fail.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConclaveClient, seededRandom } from "../../src/client/index.js";
import type { KvGetOutput } from "../../src/sim/lincheck/index.js";
import { ServeCluster } from "../server/process/serve-cluster.js";
import { TmpfsDataDir } from "./disk-fill.js";
import { type FaultKind, type FaultRecord, Nemesis } from "./faults.js";
import { HistoryRecorder } from "./history.js";
import { judge, type Verdict } from "./verdict.js";
import { startWorkload } from "./workload.js";

export interface RunOptions {
  readonly seed: number;
  readonly members: 3 | 5;
  readonly seconds: number;
  readonly clients?: number;
  /** Lines of progress; stderr in the CLI. */
  readonly log?: (line: string) => void;
}

export interface RunReport {
  readonly seed: number;
  readonly members: number;
  readonly ops: number;
  readonly okOps: number;
  readonly unknownOps: number;
  readonly faults: readonly FaultRecord[];
  /** Fault kinds this run could not inject, and why. */
  readonly skipped: Readonly<Partial<Record<FaultKind, string>>>;
  readonly verdict: Verdict;
  /** Where the history was written when the verdict is not clean. */
  readonly historyFile?: string;
}

const TMPFS_BYTES = 32 * 1024 * 1024;
const CLIENT_TIMEOUT_MS = 2000;
/** The final reads may wait out a slow restart; still bounded. */
const FINAL_READ_TIMEOUT_MS = 30_000;
const CHECK_TIMEOUT_MS = 120_000;
/** The client id of the final reads in the history. */
const FINAL_READER = 0;

/**
 * How to end each run in progress at once: the CLI calls these when it is
 * interrupted, so no member process, temp dir or mount outlives it.
 */
export const runsInProgress = new Set<() => Promise<void>>();

async function finalReads(
  client: ConclaveClient,
  history: HistoryRecorder,
  keys: readonly string[],
): Promise<Map<string, string | null>> {
  const values = new Map<string, string | null>();
  for (const key of keys) {
    const out = await history.record<KvGetOutput>(FINAL_READER, { op: "get", key }, async () => {
      const kv = await client.get(key, { timeoutMs: FINAL_READ_TIMEOUT_MS });
      return { value: kv === undefined ? null : kv.valueString };
    });
    if (out === undefined) throw new Error(`the final read of ${key} failed after the restart`);
    values.set(key, out.value);
  }
  return values;
}

export async function runOnce(o: RunOptions): Promise<RunReport> {
  const log = o.log ?? (() => {});
  const random = seededRandom(o.seed);
  const skipped: Partial<Record<FaultKind, string>> = {};
  const tmpfsMember = 1 + Math.floor(random() * o.members);
  const tmpfs = TmpfsDataDir.mount(TMPFS_BYTES);
  if (typeof tmpfs === "string") {
    skipped["disk-full"] = tmpfs;
    log(`NOTE: the disk-full fault is skipped in this run: ${tmpfs}`);
  }
  const cluster = new ServeCluster({
    size: o.members,
    heartbeatMs: 50,
    electionMs: 800,
    dataDirOf: (id) =>
      typeof tmpfs !== "string" && id === tmpfsMember ? tmpfs.dataDir : undefined,
  });
  const clients: ConclaveClient[] = [];
  const cleanUp = async (): Promise<void> => {
    runsInProgress.delete(cleanUp);
    await Promise.all(clients.map((c) => c.close()));
    await cluster.destroy();
    if (typeof tmpfs !== "string") tmpfs.unmount();
  };
  runsInProgress.add(cleanUp);
  try {
    await cluster.start();
    await cluster.waitFor(() => cluster.leader(), "a leader", 30_000);
    const history = new HistoryRecorder();
    for (let i = 0; i < (o.clients ?? 5); i++) {
      clients.push(
        cluster.client(cluster.ids, {
          timeoutMs: CLIENT_TIMEOUT_MS,
          random: seededRandom(o.seed + 7919 * (i + 1)),
        }),
      );
    }
    const runMs = o.seconds * 1000;
    const nemesis = new Nemesis({
      cluster,
      random,
      ...(typeof tmpfs !== "string" && { diskFull: { member: tmpfsMember, tmpfs } }),
      now: () => history.now(),
      untilMs: runMs,
      maxFaults: 10 + o.seconds,
      holdMs: [500, 2000],
      quietMs: [300, 1200],
      log,
    });
    const workload = startWorkload({
      clients,
      history,
      seed: o.seed,
      keys: 4,
      keyGenerationMs: 2000,
      maxOpsPerClient: 20_000,
      maxMs: runMs,
    });
    nemesis.start();
    try {
      await new Promise((r) => setTimeout(r, Math.max(0, runMs - history.now())));
      // Recovers the fault in progress; rethrows when a recovery failed (a member did not restart).
      await nemesis.stop();
    } finally {
      await workload.stop();
    }
    log(`workload done: ${history.operations.length} ops; healing and restarting every member`);

    // Heal, then restart everything from its data dir: what was acknowledged must be there.
    cluster.heal();
    for (const id of cluster.ids) cluster.signal(id, "SIGCONT");
    if (typeof tmpfs !== "string") tmpfs.free();
    await Promise.all(cluster.ids.map((id) => cluster.kill(id)));
    await Promise.all(cluster.ids.map((id) => cluster.restart(id)));
    await cluster.waitFor(() => cluster.leader(), "a leader after the final restart", 30_000);
    const reader = cluster.client(cluster.ids, { timeoutMs: FINAL_READ_TIMEOUT_MS });
    clients.push(reader);
    const finalValues = await finalReads(reader, history, history.keys());

    const verdict = judge(history.operations, finalValues, CHECK_TIMEOUT_MS);
    const clean = verdict.lincheck === "ok" && verdict.lostAcknowledgedWrites.length === 0;
    let historyFile: string | undefined;
    if (!clean) {
      historyFile = join(tmpdir(), `conclave-nemesis-seed-${o.seed}.json`);
      writeFileSync(historyFile, JSON.stringify({ seed: o.seed, history: history.operations }));
      log(`history written to ${historyFile}`);
      if (verdict.explanation !== undefined) log(verdict.explanation);
      for (const lost of verdict.lostAcknowledgedWrites) log(`lost acknowledged write: ${lost}`);
    }
    return {
      seed: o.seed,
      members: o.members,
      ops: history.operations.length,
      okOps: history.completed,
      unknownOps: history.unknown,
      faults: nemesis.faults,
      skipped,
      verdict,
      ...(historyFile !== undefined && { historyFile }),
    };
  } catch (err) {
    log(`run failed; member logs:\n${cluster.logs().slice(-8000)}`);
    throw err;
  } finally {
    await cleanUp();
  }
}
