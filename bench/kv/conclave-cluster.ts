/**
 * A 3-node Conclave cluster of `conclave serve` processes, run from the built
 * `dist/` as installed servers run, on free loopback ports with their own
 * data dirs (the WAL always fsyncs), and the ConclaveClient target that loads it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type CallOptions,
  ConclaveClient,
  type LeaseKeepAliveResult,
} from "../../src/client/index.js";
import { loadOrCreateSecretFile } from "../../src/server/runtime/cluster-secret.js";
import { freePort } from "../../test/support/free-port.js";
import type { ProcessGroup } from "../support/processes.js";
import { waitFor } from "../support/wait.js";
import { getText, numberField } from "./member-http.js";
import type { KvTarget, MemberStatus, RunningCluster, Watching } from "./target.js";

const MEMBERS = 3;
const START_TIMEOUT_MS = 30_000;
const REPO = fileURLToPath(new URL("../../", import.meta.url));
const BUILT_CLI = join(REPO, "dist", "cli", "main.js");

/**
 * Builds dist/ (`npm run build`) when asked, then checks it is there. A
 * dist/ older than the sources is used as it is, with a warning: the caller
 * asked not to build.
 */
export function prepareServerBuild(build: boolean): void {
  if (build) {
    console.error("npm run build (Conclave servers run from dist/)");
    execFileSync("npm", ["run", "--silent", "build"], { cwd: REPO, stdio: "inherit" });
  }
  if (!existsSync(BUILT_CLI)) {
    throw new Error(`${BUILT_CLI} is missing: run npm run build (or drop --no-build)`);
  }
  if (statSync(BUILT_CLI).mtimeMs < newestSourceMtimeMs(join(REPO, "src"))) {
    console.error("warning: dist/ is older than src/: the servers run the last build");
  }
}

export interface ServerCommand {
  readonly from: "dist" | "tsx";
  /** Node arguments that run the CLI (before `serve` and its flags). */
  readonly args: readonly string[];
}

/** The built CLI: what the kv bench runs, after prepareServerBuild. */
export const BUILT_SERVER: ServerCommand = { from: "dist", args: [BUILT_CLI] };

/**
 * For the benches that do not build first: the compiled CLI when dist/ is
 * newer than every source file, else the sources through tsx, whose loader
 * thread adds some memory to each process.
 */
export function serverCommand(): ServerCommand {
  if (
    existsSync(BUILT_CLI) &&
    statSync(BUILT_CLI).mtimeMs > newestSourceMtimeMs(join(REPO, "src"))
  ) {
    return BUILT_SERVER;
  }
  return { from: "tsx", args: ["--import", "tsx", join(REPO, "src", "cli", "main.ts")] };
}

function newestSourceMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestSourceMtimeMs(path) : statSync(path).mtimeMs;
    newest = Math.max(newest, mtime);
  }
  return newest;
}

export async function startConclaveCluster(
  group: ProcessGroup,
  dataDir: string,
  profileArgs: readonly string[],
  /** Extra `conclave serve` flags for every member. */
  serveArgs: readonly string[] = [],
  command: ServerCommand = serverCommand(),
  /** Also serve etcd's gRPC API on a free port per member (`RunningCluster.grpcEndpoints`). */
  grpc = false,
): Promise<RunningCluster> {
  console.error(
    `  conclave servers run from ${command.from === "dist" ? "dist/ (built)" : "sources via tsx (npm run build first to run dist/)"}`,
  );
  const clientPorts: number[] = [];
  const peerPorts: number[] = [];
  const grpcPorts: number[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    clientPorts.push(await freePort());
    peerPorts.push(await freePort());
    if (grpc) grpcPorts.push(await freePort());
  }
  const endpoints = clientPorts.map((p) => `http://127.0.0.1:${p}`);
  const grpcEndpoints = grpcPorts.map((p) => `http://127.0.0.1:${p}`);
  const initialCluster = endpoints
    .map((e, i) => `c${i + 1}=${i + 1}@127.0.0.1:${peerPorts[i]}@${e}`)
    .join(",");
  // A fresh secret per run, in a 0600 file as `conclave start` keeps one.
  const secretFile = join(dataDir, "cluster-secret");
  mkdirSync(dataDir, { recursive: true });
  loadOrCreateSecretFile(secretFile);
  const dataDirs = endpoints.map((_, i) => join(dataDir, `c${i + 1}`));
  const pids: number[] = [];
  const launch = (i: number) => {
    const name = `c${i + 1}`;
    mkdirSync(dataDirs[i]!, { recursive: true });
    // Node options first: CPU profiles (file names carry the PID, see the log) when asked.
    const nodeArgs =
      profileArgs.length > 0 ? [...profileArgs, `--cpu-prof-dir=${join(dataDir, "profiles")}`] : [];
    const started = group.start(
      `conclave ${name}`,
      process.execPath,
      [
        ...nodeArgs,
        ...command.args,
        "serve",
        `--name=${name}`,
        `--node-id=${i + 1}`,
        `--data-dir=${dataDirs[i]}`,
        `--listen-client=127.0.0.1:${clientPorts[i]}`,
        `--listen-peer=127.0.0.1:${peerPorts[i]}`,
        `--initial-cluster=${initialCluster}`,
        `--cluster-id=bench-kv-${process.pid}`,
        `--cluster-secret-file=${secretFile}`,
        "--log-level=warn",
        ...(grpc ? [`--listen-grpc=127.0.0.1:${grpcPorts[i]}`] : []),
        ...serveArgs,
      ],
      join(dataDir, `${name}.log`),
    );
    pids[i] = started.pid;
  };
  const startAgain = () => {
    for (let i = 0; i < MEMBERS; i++) launch(i);
  };
  const stop = () => group.stop([...pids]);
  startAgain();
  try {
    await waitFor("conclave nodes ready", START_TIMEOUT_MS, async () => {
      const answers = await Promise.all(endpoints.map((e) => ready(e)));
      return answers.every(Boolean);
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    target: conclaveTarget(endpoints, pids, dataDirs),
    endpoints,
    ...(grpc && { grpcEndpoints }),
    stop,
    startAgain,
  };
}

async function ready(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/ready`, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** The SDK as applications use it, counting the keep-alives its lease keepers get answered. */
class CountingClient extends ConclaveClient {
  keepAlivesAnswered = 0;

  override async leaseKeepAliveOnce(
    id: number,
    options?: CallOptions,
  ): Promise<LeaseKeepAliveResult> {
    const answer = await super.leaseKeepAliveOnce(id, options);
    this.keepAlivesAnswered++;
    return answer;
  }
}

function conclaveTarget(
  endpoints: readonly string[],
  pids: readonly number[],
  dataDirs: readonly string[],
): KvTarget {
  const client = new CountingClient({ endpoints: [...endpoints] });
  const watchClients: ConclaveClient[] = [];
  return {
    name: "conclave",
    pids,
    endpoints,
    dataDirs,
    fsyncMetric: "conclave_raft_persist_duration_seconds_count",
    async put(key, value) {
      await client.put(key, value);
    },
    async get(key) {
      await client.get(key);
    },
    async watchPrefix(prefix, index, onEvents): Promise<Watching> {
      // One client per watcher, each starting at a different member.
      const own = new ConclaveClient({ endpoints: rotate(endpoints, index) });
      watchClients.push(own);
      const abort = new AbortController();
      // The caller confirms the watch is live with a probe put before it counts.
      const loop = (async () => {
        const stream = own.watch(prefix, { prefix: true, signal: abort.signal });
        for await (const batch of stream) onEvents(batch.events.length);
      })().catch((err: unknown) => {
        if (!abort.signal.aborted) console.error(`watcher ${index}: ${String(err)}`);
      });
      return {
        async stop() {
          abort.abort();
          await loop;
        },
      };
    },
    async keptLease(ttlSeconds) {
      const keeper = await client.lease(ttlSeconds);
      return {
        async revoke() {
          await keeper.revoke();
        },
        close: () => keeper.close(),
      };
    },
    keepAlivesAnswered: () => client.keepAlivesAnswered,
    async memberStatus(index, timeoutMs): Promise<MemberStatus> {
      const body = JSON.parse(await getText(`${endpoints[index]}/status`, timeoutMs)) as Record<
        string,
        unknown
      >;
      return {
        term: numberField(body["term"]),
        isLeader: body["role"] === "leader",
        appliedIndex: numberField(body["appliedIndex"]),
      };
    },
    metricsText: (index, timeoutMs) => getText(`${endpoints[index]}/metrics`, timeoutMs),
    async close() {
      await Promise.all([client.close(), ...watchClients.map((c) => c.close())]);
    },
  };
}
