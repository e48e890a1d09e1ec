/**
 * What an idle Raft group costs a `conclave serve --shards` node: three
 * nodes on loopback (R = 3, so every node hosts a replica of every group),
 * started afresh for each shard count S, left alone once the controller
 * reports every group settled, and measured over an idle window: resident
 * memory (sampled each second) and CPU time (utime + stime) of each node
 * process, read from /proc. A least-squares line over the S values gives
 * the cost of one more group on a node (RSS and CPU per group) and the
 * fixed cost of a node (the intercept).
 *
 * The sharded API serves no /metrics and no transport counters, so peer
 * messages are not counted; /proc/<pid>/io's write syscalls and bytes stand
 * in for the traffic (an idle node writes little else: no WAL appends, logs
 * at warn), next to the heartbeat rate Raft implies (each leader sends one
 * heartbeat per follower per heartbeatMs, each follower answers it).
 *
 * `npm run bench -- shards --no-real --idle` runs it.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadOrCreateSecretFile } from "../../src/server/runtime/cluster-secret.js";
import { freePort } from "../../test/support/free-port.js";
import { type ServerCommand, serverCommand } from "../kv/conclave-cluster.js";
import { cpuSeconds, rssBytes } from "../support/proc-stats.js";
import { ProcessGroup, type StartedProcess } from "../support/processes.js";

export interface IdleCostOptions {
  /** Shard counts to measure, one fresh cluster each (default 1, 16, 64, 256). */
  readonly shardCounts?: readonly number[];
  /**
   * `--shard-quiesce-ticks` settings compared: each shard count is measured
   * with each in turn, in this order (default 3, the serve default, and 0:
   * every group ticking).
   */
  readonly quiesceTicks?: readonly number[];
  /** The idle window measured, ms (default 20,000). */
  readonly idleMs?: number;
  /** Wait after the placement settled before the window opens, ms (default 3,000). */
  readonly quietMs?: number;
  /** Each wait (nodes serving, placement settled) gives up after this long, ms (default 120,000). */
  readonly settleTimeoutMs?: number;
  /** The whole measurement gives up after this long, ms (default 15 minutes). */
  readonly runTimeoutMs?: number;
  /** `--heartbeat-ms` of every node (default 100, the serve default). */
  readonly heartbeatMs?: number;
  /** `--election-ms` of every node (default 1,000, the serve default). */
  readonly electionMs?: number;
  /** How to run `conclave serve` (default serverCommand(): dist/ when built and fresh, else tsx). */
  readonly command?: ServerCommand;
  /**
   * Node 1 of every cluster runs with `--cpu-prof` into this directory (its
   * figures then include the profiler's cost). Each measurement's window is
   * given in the monotonic clock of the profile's timestamps.
   */
  readonly cpuProfileDir?: string;
  /** Keep the data dirs and logs (default: removed unless a run fails). */
  readonly keep?: boolean;
  readonly log?: (line: string) => void;
}

export interface IdleNodeFigures {
  readonly node: number;
  readonly pid: number;
  /** Replicas this node hosts (the S shard groups and the meta group). */
  readonly groups: number;
  /** Groups this node leads, as the controller last heard. */
  readonly leaders: number;
  /** Mean of the RSS samples over the window, MiB. */
  readonly rssMiB: number;
  /** RSS at the window's end minus at its start, MiB (growth while idle). */
  readonly rssDriftMiB: number;
  /** CPU time over the window as a share of one core, %. */
  readonly cpuPercent: number;
  /** The part of cpuPercent spent in the kernel (stime: syscalls, loopback TCP). */
  readonly cpuSystemPercent: number;
  /** write(2)-family calls per second (peer sockets, mostly), if /proc/<pid>/io is readable. */
  readonly writeCallsPerSecond?: number;
  readonly writeKiBPerSecond?: number;
  readonly readCallsPerSecond?: number;
  /**
   * Raft messages per second this node would send idle if no group went
   * quiet: heartbeats it sends as leader plus answers as follower.
   */
  readonly impliedMessagesPerSecond: number;
}

export interface IdleMeasurement {
  readonly shards: number;
  readonly quiesceTicks: number;
  readonly windowMs: number;
  /** From start until the controller reported every group settled, ms. */
  readonly settledMs: number;
  readonly nodes: readonly IdleNodeFigures[];
  /** The window in the monotonic clock, µs (a --cpu-prof profile's timestamps), when profiling. */
  readonly monotonicWindowUs?: readonly [number, number];
}

export interface IdleSlope {
  /** Extra RSS per extra group hosted, KiB. */
  readonly rssKiBPerGroup: number;
  /** The line's RSS at 0 groups, MiB. */
  readonly rssMiBAtZero: number;
  /** Extra CPU per extra group hosted, % of one core. */
  readonly cpuPercentPerGroup: number;
  readonly cpuPercentAtZero: number;
  /** Extra write calls per second per group hosted (if measured). */
  readonly writeCallsPerSecondPerGroup?: number;
}

export interface IdleCostResult {
  readonly from: "dist" | "tsx";
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly leaseCheckMs: number;
  readonly replication: 3;
  readonly measurements: readonly IdleMeasurement[];
  /** Per --shard-quiesce-ticks setting, lines over the shard counts (x = groups a node hosts). */
  readonly lines: readonly IdleLines[];
  readonly heartbeatCounters: string;
}

export interface IdleLines {
  readonly quiesceTicks: number;
  /** One line per node. */
  readonly slopePerNode: readonly ({ node: number } & IdleSlope)[];
  /** One line over every node's points. */
  readonly slope: IdleSlope;
}

const NODES = 3;
const REPLICATION = 3;
const SAMPLE_MS = 1000;

interface ProcIo {
  readonly rchar: number;
  readonly wchar: number;
  readonly syscr: number;
  readonly syscw: number;
}

function procIo(pid: number): ProcIo | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/io`, "utf8");
    const field = (name: string) => {
      const m = new RegExp(`^${name}:\\s+(\\d+)$`, "m").exec(text);
      if (m === null) throw new Error(`no ${name}`);
      return Number(m[1]);
    };
    return {
      rchar: field("rchar"),
      wchar: field("wchar"),
      syscr: field("syscr"),
      syscw: field("syscw"),
    };
  } catch {
    return undefined;
  }
}

/** utime and stime of the process in clock ticks, from /proc/<pid>/stat (for their ratio). */
function cpuTicks(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name's closing parenthesis start at field 3.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[14 - 3]), system: Number(fields[15 - 3]) };
}

function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Node {
  readonly id: number;
  readonly url: string;
  readonly proc: StartedProcess;
}

interface StatusBody {
  readonly controller: number;
  readonly nodes: readonly { id: number; replicas: number; leaders: number }[];
  readonly groups: readonly { group: number; target: number[]; settled: boolean }[];
}

async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  const text = await res.text();
  return { status: res.status, body: text === "" ? undefined : JSON.parse(text) };
}

/** The controller's status, asked of each node in turn (a 421 names the controller). */
async function controllerStatus(nodes: readonly Node[]): Promise<StatusBody | undefined> {
  for (const n of nodes) {
    try {
      let reply = await getJson(`${n.url}/v3/shard/status`);
      if (reply.status === 421) {
        const url = (reply.body as { controllerUrl?: string } | undefined)?.controllerUrl;
        if (url === undefined) continue;
        reply = await getJson(`${url}/v3/shard/status`);
      }
      if (reply.status === 200) return reply.body as StatusBody;
    } catch {
      // Not serving yet, or slow: ask the next.
    }
  }
  return undefined;
}

async function hostedGroups(n: Node): Promise<number> {
  const reply = await getJson(`${n.url}/v3/shard/replicas`);
  if (reply.status !== 200)
    throw new Error(`node ${n.id}: /v3/shard/replicas answered ${reply.status}`);
  return (reply.body as { replicas: unknown[] }).replicas.length;
}

/** Polls until `f` gives a value or the deadline passes; also fails as soon as a node died. */
async function until<T>(
  what: string,
  deadline: number,
  nodes: readonly Node[],
  f: () => Promise<T | undefined>,
  detail: () => string = () => "",
): Promise<T> {
  for (;;) {
    const dead = nodes.find((n) => n.proc.hasExited());
    if (dead !== undefined) {
      throw new Error(
        `node ${dead.id} exited while waiting for ${what} (log: ${dead.proc.logPath})`,
      );
    }
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${detail()}`);
    await sleep(250);
  }
}

/** Least squares y = a + b·x. */
function leastSquares(points: readonly (readonly [number, number])[]): { a: number; b: number } {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  const b = sxx === 0 ? 0 : sxy / sxx;
  return { a: my - b * mx, b };
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

function slopeOf(points: readonly { x: number; f: IdleNodeFigures }[]): IdleSlope {
  const rss = leastSquares(points.map((p) => [p.x, p.f.rssMiB] as const));
  const cpu = leastSquares(points.map((p) => [p.x, p.f.cpuPercent] as const));
  const writes = points.every((p) => p.f.writeCallsPerSecond !== undefined)
    ? leastSquares(points.map((p) => [p.x, p.f.writeCallsPerSecond ?? 0] as const))
    : undefined;
  return {
    rssKiBPerGroup: round(rss.b * 1024, 1),
    rssMiBAtZero: round(rss.a, 1),
    cpuPercentPerGroup: round(cpu.b, 4),
    cpuPercentAtZero: round(cpu.a, 2),
    ...(writes !== undefined && { writeCallsPerSecondPerGroup: round(writes.b, 2) }),
  };
}

export async function measureIdleGroups(options: IdleCostOptions = {}): Promise<IdleCostResult> {
  const shardCounts = options.shardCounts ?? [1, 16, 64, 256];
  const quiesceSettings = options.quiesceTicks ?? [3, 0];
  const idleMs = options.idleMs ?? 20_000;
  const quietMs = options.quietMs ?? 3000;
  const settleTimeoutMs = options.settleTimeoutMs ?? 120_000;
  const runDeadline = Date.now() + (options.runTimeoutMs ?? 15 * 60_000);
  const heartbeatMs = options.heartbeatMs ?? 100;
  const electionMs = options.electionMs ?? 1000;
  const command = options.command ?? serverCommand();
  const log = options.log ?? (() => {});
  log(
    `idle groups: conclave servers run from ${command.from === "dist" ? "dist/ (built)" : "sources via tsx (npm run build first to run dist/)"}`,
  );
  const root = mkdtempSync(join(tmpdir(), "conclave-idle-groups-"));
  const group = new ProcessGroup();
  let failed = true;
  try {
    const measurements: IdleMeasurement[] = [];
    for (const shards of shardCounts) {
      for (const quiesceTicks of quiesceSettings) {
        if (Date.now() > runDeadline) throw new Error("the idle measurement ran out of time");
        const m = await measureOne(shards, quiesceTicks, join(root, `s${shards}-q${quiesceTicks}`));
        measurements.push(m);
        const line = m.nodes
          .map(
            (n) =>
              `n${n.node}: ${n.groups} groups, ${n.rssMiB} MiB, ${n.cpuPercent}% cpu (${n.cpuSystemPercent}% sys), ${n.writeCallsPerSecond ?? "?"} writes/s`,
          )
          .join("; ");
        log(`  S = ${shards}, quiesce ${quiesceTicks} (settled in ${m.settledMs} ms): ${line}`);
      }
    }
    const lines = quiesceSettings.map((quiesceTicks): IdleLines => {
      const points = measurements
        .filter((m) => m.quiesceTicks === quiesceTicks)
        .flatMap((m) => m.nodes.map((f) => ({ x: f.groups, f })));
      return {
        quiesceTicks,
        slopePerNode: Array.from({ length: NODES }, (_, i) => ({
          node: i + 1,
          ...slopeOf(points.filter((p) => p.f.node === i + 1)),
        })),
        slope: slopeOf(points),
      };
    });
    failed = false;
    return {
      from: command.from,
      heartbeatMs,
      electionMs,
      leaseCheckMs: heartbeatMs * 5,
      replication: REPLICATION,
      measurements,
      lines,
      heartbeatCounters:
        "not exposed: the sharded API serves no /metrics and /v3/shard/replicas carries no transport stats; write syscalls from /proc/<pid>/io stand in",
    };
  } finally {
    await group[Symbol.asyncDispose]();
    if (failed || options.keep === true) log(`idle groups: data and logs kept in ${root}`);
    else rmSync(root, { recursive: true, force: true });
  }

  async function measureOne(
    shards: number,
    quiesceTicks: number,
    dir: string,
  ): Promise<IdleMeasurement> {
    const deadline = Math.min(runDeadline, Date.now() + settleTimeoutMs);
    mkdirSync(dir, { recursive: true });
    const secretFile = join(dir, "cluster-secret");
    loadOrCreateSecretFile(secretFile);
    const clientPorts: number[] = [];
    const peerPorts: number[] = [];
    for (let i = 0; i < NODES; i++) {
      clientPorts.push(await freePort());
      peerPorts.push(await freePort());
    }
    const urls = clientPorts.map((p) => `http://127.0.0.1:${p}`);
    const initialCluster = urls
      .map((u, i) => `n${i + 1}=${i + 1}@127.0.0.1:${peerPorts[i]}@${u}`)
      .join(",");
    const started = Date.now();
    const nodes: Node[] = [];
    try {
      for (let i = 0; i < NODES; i++) {
        const id = i + 1;
        const dataDir = join(dir, `n${id}`);
        mkdirSync(dataDir, { recursive: true });
        const profile =
          options.cpuProfileDir !== undefined && id === 1
            ? ["--cpu-prof", `--cpu-prof-dir=${options.cpuProfileDir}`]
            : [];
        const proc = group.start(
          `conclave n${id} (S = ${shards})`,
          process.execPath,
          [
            ...profile,
            ...command.args,
            "serve",
            `--name=n${id}`,
            `--node-id=${id}`,
            `--data-dir=${dataDir}`,
            `--listen-client=127.0.0.1:${clientPorts[i]}`,
            `--listen-peer=127.0.0.1:${peerPorts[i]}`,
            `--initial-cluster=${initialCluster}`,
            `--cluster-id=bench-idle-${process.pid}-${shards}`,
            `--cluster-secret-file=${secretFile}`,
            `--heartbeat-ms=${heartbeatMs}`,
            `--election-ms=${electionMs}`,
            "--log-level=warn",
            `--shards=${shards}`,
            `--replication=${REPLICATION}`,
            `--shard-quiesce-ticks=${quiesceTicks}`,
          ],
          join(dir, `n${id}.log`),
        );
        nodes.push({ id, url: urls[i]!, proc });
      }
      await until("every node serving", deadline, nodes, async () => {
        const answers = await Promise.all(nodes.map((n) => hostedGroups(n).then(() => true)));
        return answers.every(Boolean) ? true : undefined;
      });
      let last: StatusBody | undefined;
      await until(
        `the placement of ${shards} shards to settle`,
        deadline,
        nodes,
        async () => {
          const s = await controllerStatus(nodes);
          last = s;
          const ok =
            s !== undefined &&
            // The meta group (0) is listed too.
            s.groups.length >= shards &&
            s.groups.every((g) => g.settled && g.target.length === REPLICATION);
          return ok ? s : undefined;
        },
        () => {
          if (last === undefined) return ": no controller status";
          const open = last.groups.filter((g) => !g.settled || g.target.length !== REPLICATION);
          const some = open.slice(0, 4).map((g) => `g${g.group} target ${g.target}`);
          return `: ${last.groups.length} groups listed, ${open.length} not settled (${some.join("; ")})`;
        },
      );
      const settledMs = Date.now() - started;
      // With R = 3 on 3 nodes every node hosts every shard (and the meta group).
      await until(`every node hosting all ${shards} shards`, deadline, nodes, async () => {
        const counts = await Promise.all(nodes.map((n) => hostedGroups(n)));
        return counts.every((c) => c >= shards) ? true : undefined;
      });
      await sleep(quietMs);

      const pids = nodes.map((n) => n.proc.pid);
      const startUs = monotonicUs();
      const t0 = performance.now();
      const cpu0 = pids.map((p) => cpuSeconds(p));
      const ticks0 = pids.map((p) => cpuTicks(p));
      const io0 = pids.map((p) => procIo(p));
      const rssSamples: number[][] = pids.map((p) => [rssBytes(p)]);
      const stopAt = t0 + idleMs;
      while (performance.now() + SAMPLE_MS <= stopAt) {
        await sleep(SAMPLE_MS);
        const dead = nodes.find((n) => n.proc.hasExited());
        if (dead !== undefined) throw new Error(`node ${dead.id} exited while idle`);
        for (const [i, p] of pids.entries()) rssSamples[i]!.push(rssBytes(p));
      }
      await sleep(Math.max(0, stopAt - performance.now()));
      const cpu1 = pids.map((p) => cpuSeconds(p));
      const ticks1 = pids.map((p) => cpuTicks(p));
      const io1 = pids.map((p) => procIo(p));
      for (const [i, p] of pids.entries()) rssSamples[i]!.push(rssBytes(p));
      const windowMs = performance.now() - t0;
      const endUs = monotonicUs();

      const status = await controllerStatus(nodes);
      const hosted = await Promise.all(nodes.map((n) => hostedGroups(n)));
      const perSecond = (d: number) => round(d / (windowMs / 1000), 1);
      const figures: IdleNodeFigures[] = nodes.map((n, i) => {
        const rss = rssSamples[i]!;
        const leaders = status?.nodes.find((s) => s.id === n.id)?.leaders ?? 0;
        const groups = hosted[i]!;
        const a = io0[i];
        const b = io1[i];
        const hb = 1000 / heartbeatMs;
        const cpuPercent = ((cpu1[i]! - cpu0[i]!) / (windowMs / 1000)) * 100;
        const user = ticks1[i]!.user - ticks0[i]!.user;
        const system = ticks1[i]!.system - ticks0[i]!.system;
        return {
          node: n.id,
          pid: n.proc.pid,
          groups,
          leaders,
          rssMiB: round(rss.reduce((s, v) => s + v, 0) / rss.length / 2 ** 20, 1),
          rssDriftMiB: round((rss[rss.length - 1]! - rss[0]!) / 2 ** 20, 1),
          cpuPercent: round(cpuPercent, 2),
          cpuSystemPercent: round(
            user + system === 0 ? 0 : (cpuPercent * system) / (user + system),
            2,
          ),
          ...(a !== undefined &&
            b !== undefined && {
              writeCallsPerSecond: perSecond(b.syscw - a.syscw),
              writeKiBPerSecond: perSecond((b.wchar - a.wchar) / 1024),
              readCallsPerSecond: perSecond(b.syscr - a.syscr),
            }),
          impliedMessagesPerSecond: Math.round(
            (leaders * (REPLICATION - 1) + (groups - leaders)) * hb,
          ),
        };
      });
      return {
        shards,
        quiesceTicks,
        windowMs: Math.round(windowMs),
        settledMs,
        nodes: figures,
        ...(options.cpuProfileDir !== undefined && {
          monotonicWindowUs: [startUs, endUs] as const,
        }),
      };
    } finally {
      // SIGTERM lets a profiled node write its profile; SIGKILL after the grace period.
      await group.stop(nodes.map((n) => n.proc.pid));
      if (options.cpuProfileDir !== undefined && !existsSync(options.cpuProfileDir)) {
        log(`idle groups: no CPU profile was written to ${options.cpuProfileDir}`);
      }
    }
  }
}
