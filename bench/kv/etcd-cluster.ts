/**
 * A private 3-member etcd cluster (Debian's etcd-server 3.4) on free loopback
 * ports with its own data dirs, and the etcd3 client target that loads it.
 * Never the shared etcd on 2379. fsync stays on (etcd's default).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { freePort } from "../../test/support/free-port.js";
import type { ProcessGroup } from "../support/processes.js";
import { waitFor } from "../support/wait.js";
import { getText, numberField, postJson } from "./member-http.js";
import type { KvTarget, MemberStatus, RunningCluster, Watching } from "./target.js";

const MEMBERS = 3;
const START_TIMEOUT_MS = 30_000;

/** The etcd binary; installs Debian's etcd-server when it is missing and we are root. */
export function etcdBinary(): string {
  const found = which("etcd");
  if (found !== undefined) return found;
  if (process.getuid?.() !== 0) {
    throw new Error("etcd is not installed: apt-get install -y etcd-server (as root)");
  }
  console.error("etcd not found: apt-get install -y etcd-server");
  execFileSync("apt-get", ["install", "-y", "-qq", "etcd-server"], {
    stdio: "inherit",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  const installed = which("etcd");
  if (installed === undefined) throw new Error("etcd-server installed but no etcd on PATH");
  return installed;
}

function which(command: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).trim();
  } catch {
    return undefined;
  }
}

export async function startEtcdCluster(
  group: ProcessGroup,
  dataDir: string,
): Promise<RunningCluster> {
  const binary = etcdBinary();
  const clientPorts: number[] = [];
  const peerPorts: number[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    clientPorts.push(await freePort());
    peerPorts.push(await freePort());
  }
  const names = clientPorts.map((_, i) => `e${i + 1}`);
  const initialCluster = names.map((n, i) => `${n}=http://127.0.0.1:${peerPorts[i]}`).join(",");
  const endpoints = clientPorts.map((p) => `http://127.0.0.1:${p}`);
  const dataDirs = names.map((n) => join(dataDir, n));
  const pids: number[] = [];
  const launch = (i: number) => {
    mkdirSync(dataDirs[i]!, { recursive: true });
    const peerUrl = `http://127.0.0.1:${peerPorts[i]}`;
    const started = group.start(
      `etcd ${names[i]}`,
      binary,
      [
        `--name=${names[i]}`,
        `--data-dir=${dataDirs[i]}`,
        `--listen-client-urls=${endpoints[i]}`,
        `--advertise-client-urls=${endpoints[i]}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=${initialCluster}`,
        // On a restart etcd reads its membership from the data dir and ignores this.
        "--initial-cluster-state=new",
        `--initial-cluster-token=bench-kv-${process.pid}`,
        "--logger=zap",
        "--log-level=warn",
      ],
      join(dataDir, `${names[i]}.log`),
    );
    pids[i] = started.pid;
  };
  const startAgain = () => {
    for (let i = 0; i < MEMBERS; i++) launch(i);
  };
  const stop = () => group.stop([...pids]);
  startAgain();
  try {
    await waitFor("etcd members healthy", START_TIMEOUT_MS, async () => {
      const answers = await Promise.all(endpoints.map((e) => healthy(e)));
      return answers.every(Boolean);
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { target: etcdTarget(endpoints, pids, dataDirs), endpoints, stop, startAgain };
}

async function healthy(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) });
    const body = (await response.json()) as { health?: string };
    return response.ok && body.health === "true";
  } catch {
    return false;
  }
}

function etcdTarget(
  endpoints: readonly string[],
  pids: readonly number[],
  dataDirs: readonly string[],
): KvTarget {
  return etcd3Target({
    name: "etcd",
    endpoints,
    pids,
    dataDirs,
    fsyncMetric: "etcd_disk_wal_fsync_duration_seconds_count",
    async memberStatus(index, timeoutMs): Promise<MemberStatus> {
      // The gRPC gateway: header fields in snake_case, the rest in camelCase, uint64 as strings.
      const body = (await postJson(`${endpoints[index]}/v3/maintenance/status`, {}, timeoutMs)) as {
        header?: { member_id?: unknown };
        leader?: unknown;
      } & Record<string, unknown>;
      const memberId = body.header?.member_id;
      return {
        term: numberField(body["raftTerm"]),
        isLeader: memberId !== undefined && String(memberId) === String(body.leader),
        appliedIndex: numberField(body["raftAppliedIndex"]),
      };
    },
    metricsText: (index, timeoutMs) => getText(`${endpoints[index]}/metrics`, timeoutMs),
  });
}

/** What an etcd3-client target needs besides the client: the system's own status and metrics. */
export type Etcd3TargetSpec = Pick<
  KvTarget,
  "name" | "pids" | "dataDirs" | "fsyncMetric" | "memberStatus" | "metricsText"
> & {
  /** etcd v3 gRPC endpoints (http://host:port), in member order. */
  readonly endpoints: readonly string[];
};

/**
 * The load target of npm etcd3, as applications use it: against etcd, and
 * against Conclave's etcd-compatible gRPC API (bench etcd-api), same calls.
 */
export function etcd3Target(spec: Etcd3TargetSpec): KvTarget {
  const endpoints = spec.endpoints;
  // The etcd3 client spreads calls over every host, as it is normally used.
  const client = new Etcd3({ hosts: [...endpoints] });
  const watchClients: Etcd3[] = [];
  let keepAlivesAnswered = 0;
  return {
    name: spec.name,
    pids: spec.pids,
    endpoints,
    dataDirs: spec.dataDirs,
    fsyncMetric: spec.fsyncMetric,
    async put(key, value) {
      await client.put(key).value(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    },
    async get(key) {
      await client.get(key).buffer();
    },
    async watchPrefix(prefix, index, onEvents): Promise<Watching> {
      // One client (one connection) per watcher, spread over the members.
      const own = new Etcd3({ hosts: [endpoints[index % endpoints.length]!] });
      watchClients.push(own);
      const watcher = await own.watch().prefix(prefix).create();
      watcher.on("data", (res) => onEvents(res.events.length));
      return {
        async stop() {
          await watcher.cancel();
        },
      };
    },
    async keptLease(ttlSeconds) {
      // etcd3's own loop: a keep-alive stream per lease, one request every TTL/3.
      const lease = client.lease(ttlSeconds);
      lease.on("keepaliveSucceeded", () => {
        keepAlivesAnswered++;
      });
      await lease.grant();
      return {
        async revoke() {
          await lease.revoke();
        },
        close: () => lease.release(),
      };
    },
    keepAlivesAnswered: () => keepAlivesAnswered,
    memberStatus: spec.memberStatus,
    metricsText: spec.metricsText,
    async close() {
      for (const c of watchClients) c.close();
      client.close();
    },
  };
}
