/**
 * A 3-node Conclave cluster of `conclave serve` processes on free loopback
 * ports with their own data dirs (the WAL always fsyncs), and the
 * ConclaveClient target that loads it.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConclaveClient } from "../../src/client/index.js";
import { loadOrCreateSecretFile } from "../../src/server/runtime/cluster-secret.js";
import { freePort } from "../../test/support/free-port.js";
import type { ProcessGroup } from "../support/processes.js";
import { waitFor } from "../support/wait.js";
import type { KvTarget, RunningCluster, Watching } from "./target.js";

const MEMBERS = 3;
const START_TIMEOUT_MS = 30_000;
const REPO = fileURLToPath(new URL("../../", import.meta.url));

/**
 * How a server process is started: the compiled CLI when `npm run build` is
 * newer than every source file (as installed servers run), else the sources
 * through tsx, whose loader thread adds some memory to each process.
 */
export function serverCommand(): { readonly from: "dist" | "tsx"; readonly args: string[] } {
  const built = join(REPO, "dist", "cli", "main.js");
  if (existsSync(built) && statSync(built).mtimeMs > newestSourceMtimeMs(join(REPO, "src"))) {
    return { from: "dist", args: [built] };
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
): Promise<RunningCluster> {
  const clientPorts: number[] = [];
  const peerPorts: number[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    clientPorts.push(await freePort());
    peerPorts.push(await freePort());
  }
  const endpoints = clientPorts.map((p) => `http://127.0.0.1:${p}`);
  const initialCluster = endpoints
    .map((e, i) => `c${i + 1}=${i + 1}@127.0.0.1:${peerPorts[i]}@${e}`)
    .join(",");
  const pids: number[] = [];
  const command = serverCommand();
  console.error(
    `  conclave servers run from ${command.from === "dist" ? "dist/ (built)" : "sources via tsx (npm run build first to run dist/)"}`,
  );
  // A fresh secret per run, in a 0600 file as `conclave start` keeps one.
  const secretFile = join(dataDir, "cluster-secret");
  mkdirSync(dataDir, { recursive: true });
  loadOrCreateSecretFile(secretFile);
  for (let i = 0; i < MEMBERS; i++) {
    const name = `c${i + 1}`;
    const dir = join(dataDir, name);
    mkdirSync(dir, { recursive: true });
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
        `--data-dir=${dir}`,
        `--listen-client=127.0.0.1:${clientPorts[i]}`,
        `--listen-peer=127.0.0.1:${peerPorts[i]}`,
        `--initial-cluster=${initialCluster}`,
        `--cluster-id=bench-kv-${process.pid}`,
        `--cluster-secret-file=${secretFile}`,
        "--log-level=warn",
        ...serveArgs,
      ],
      join(dataDir, `${name}.log`),
    );
    pids.push(started.pid);
  }
  const stop = () => group.stop(pids);
  try {
    await waitFor("conclave nodes ready", START_TIMEOUT_MS, async () => {
      const answers = await Promise.all(endpoints.map((e) => ready(e)));
      return answers.every(Boolean);
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { target: conclaveTarget(endpoints, pids), endpoints, stop };
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

function conclaveTarget(endpoints: readonly string[], pids: readonly number[]): KvTarget {
  const client = new ConclaveClient({ endpoints: [...endpoints] });
  const watchClients: ConclaveClient[] = [];
  return {
    name: "conclave",
    pids,
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
    async close() {
      await Promise.all([client.close(), ...watchClients.map((c) => c.close())]);
    },
  };
}
