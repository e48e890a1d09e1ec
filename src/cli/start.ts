/**
 * `conclave start`: a local cluster of `conclave serve` processes on
 * 127.0.0.1, data under <data-dir>/<name>. Waits until every member serves,
 * prints the client endpoints and the leader, and stops them all on Ctrl-C.
 * The members share a random secret kept in <data-dir>/cluster-secret.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DataDirLockedError, type DirLock, lockDataDir } from "../raft/storage/index.js";
import { ClusterSecretError, loadOrCreateSecretFile } from "../server/runtime/cluster-secret.js";
import { formatInitialCluster, type InitialMember } from "../server/runtime/initial-cluster.js";

export const START_USAGE = `Usage: conclave start [flags]

Runs a local cluster of conclave serve processes on 127.0.0.1 in the foreground.
Member i (1-based) is named n<i>, has id i, client port <client-port> + 2(i-1),
peer port <peer-port> + 2(i-1) and etcd gRPC port <grpc-port> + 2(i-1) (etcd's
clients: etcdctl --endpoints=127.0.0.1:7479). Ctrl-C stops every member gracefully.
The members authenticate each other with a random secret that the first start
writes to <data-dir>/cluster-secret (mode 0600) and later starts reuse.

  --nodes <n>           members, 1..9 (default 3)
  --data-dir <dir>      data root; member data in <dir>/<name> (default ./data)
  --client-port <port>  first member's client API port (default 7379)
  --peer-port <port>    first member's peer port (default 7380)
  --grpc-port <port>    first member's etcd gRPC API port (default 7479; 0: off)
  --log-level <level>   members' log level (default warn)
  -h, --help            show this help
`;

/** Members that do not print their ready line within this long fail the start. */
const READY_WITHIN_MS = 30_000;
const LEADER_WITHIN_MS = 15_000;
/** Beside the members' directories, in the data root. */
const SECRET_FILE_NAME = "cluster-secret";

class StartUsageError extends Error {}

interface StartPlan {
  readonly members: (InitialMember & {
    clientPort: number;
    peerPort: number;
    grpcPort: number | undefined;
  })[];
  readonly dataDir: string;
  readonly logLevel: string;
}

function port(text: string | undefined, flag: string): number {
  const n = /^[0-9]{1,5}$/.test(text ?? "") ? Number(text) : Number.NaN;
  if (!(n >= 1 && n <= 65_535))
    throw new StartUsageError(`--${flag} must be a port in 1..65535, got "${text}"`);
  return n;
}

export function planStart(argv: readonly string[]): StartPlan | "help" {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        nodes: { type: "string", default: "3" },
        "data-dir": { type: "string", default: "data" },
        "client-port": { type: "string", default: "7379" },
        "peer-port": { type: "string", default: "7380" },
        "grpc-port": { type: "string", default: "7479" },
        "log-level": { type: "string", default: "warn" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new StartUsageError((err as Error).message);
  }
  if (values["help"] === true) return "help";
  const nodesText = String(values["nodes"]);
  const n = /^[0-9]$/.test(nodesText) ? Number(nodesText) : Number.NaN;
  if (!(n >= 1 && n <= 9)) throw new StartUsageError(`--nodes must be 1..9, got "${nodesText}"`);
  const clientBase = port(values["client-port"] as string, "client-port");
  const peerBase = port(values["peer-port"] as string, "peer-port");
  const grpcBase =
    values["grpc-port"] === "0" ? undefined : port(values["grpc-port"] as string, "grpc-port");
  const members = Array.from({ length: n }, (_, i) => {
    const clientPort = clientBase + 2 * i;
    const peerPort = peerBase + 2 * i;
    const grpcPort = grpcBase === undefined ? undefined : grpcBase + 2 * i;
    return {
      name: `n${i + 1}`,
      id: i + 1,
      clientPort,
      peerPort,
      grpcPort,
      peerAddress: `127.0.0.1:${peerPort}`,
      clientUrl: `http://127.0.0.1:${clientPort}`,
    };
  });
  const ports = members.flatMap((m) => [m.clientPort, m.peerPort, m.grpcPort ?? []].flat());
  if (ports.some((p) => p > 65_535) || new Set(ports).size !== ports.length) {
    throw new StartUsageError(
      "--client-port, --peer-port and --grpc-port give overlapping or out-of-range ports",
    );
  }
  return {
    members,
    dataDir: resolve(String(values["data-dir"])),
    logLevel: String(values["log-level"]),
  };
}

/** Runs `serve` the way this command runs: from TypeScript sources (npm start) or from dist. */
function serveCommand(): { execArgv: string[]; main: string } {
  const self = fileURLToPath(import.meta.url);
  const fromSource = self.endsWith(".ts");
  return {
    execArgv: fromSource ? ["--import", "tsx"] : [],
    main: join(self, "..", fromSource ? "main.ts" : "main.js"),
  };
}

async function findLeader(
  urls: readonly string[],
): Promise<{ url: string; id: number } | undefined> {
  const deadline = Date.now() + LEADER_WITHIN_MS;
  while (Date.now() < deadline) {
    for (const url of urls) {
      try {
        const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { id?: number; role?: string };
        if (body.role === "leader" && typeof body.id === "number") return { url, id: body.id };
      } catch {
        // not up yet
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

export async function start(argv: readonly string[]): Promise<number> {
  let plan: ReturnType<typeof planStart>;
  try {
    plan = planStart(argv);
  } catch (err) {
    if (!(err instanceof StartUsageError)) throw err;
    process.stderr.write(`conclave start: ${err.message}\n\n${START_USAGE}`);
    return 2;
  }
  if (plan === "help") {
    process.stdout.write(START_USAGE);
    return 0;
  }
  mkdirSync(plan.dataDir, { recursive: true, mode: 0o700 });
  // The launcher holds the parent directory too: a second `start` on it is refused
  // before it touches the secret or spawns anything (each member also holds its own).
  let lock: DirLock;
  try {
    lock = await lockDataDir(plan.dataDir);
  } catch (err) {
    if (!(err instanceof DataDirLockedError)) throw err;
    process.stderr.write(`conclave start: ${err.message}\n`);
    return 1;
  }
  try {
    return await runCluster(plan);
  } finally {
    await lock.release();
  }
}

async function runCluster(plan: StartPlan): Promise<number> {
  const secretFile = join(plan.dataDir, SECRET_FILE_NAME);
  try {
    const { created } = loadOrCreateSecretFile(secretFile);
    if (created) process.stdout.write(`conclave: new cluster secret in ${secretFile}\n`);
  } catch (err) {
    if (!(err instanceof ClusterSecretError)) throw err;
    process.stderr.write(`conclave start: ${err.message}\n`);
    return 1;
  }
  // The members read the secret from the file; it is never in argv or the environment.
  const memberEnv: NodeJS.ProcessEnv = { ...process.env, CONCLAVE_CLUSTER_SECRET_FILE: secretFile };
  delete memberEnv["CONCLAVE_CLUSTER_SECRET"];
  delete memberEnv["CONCLAVE_DEV_UNAUTHENTICATED_PEERS"];
  const { execArgv, main } = serveCommand();
  const initialCluster = formatInitialCluster(plan.members);
  const children: ChildProcess[] = [];
  let stopping = false;
  const ready: Promise<void>[] = [];
  for (const m of plan.members) {
    const child = spawn(
      process.execPath,
      [
        ...execArgv,
        main,
        "serve",
        "--name",
        m.name,
        "--data-dir",
        join(plan.dataDir, m.name),
        "--listen-client",
        `127.0.0.1:${m.clientPort}`,
        "--listen-peer",
        m.peerAddress,
        "--initial-cluster",
        initialCluster,
        "--log-level",
        plan.logLevel,
        ...(m.grpcPort === undefined ? [] : ["--listen-grpc", `127.0.0.1:${m.grpcPort}`]),
      ],
      // The IPC channel closes if this process dies in any way; the member then stops itself.
      { stdio: ["ignore", "pipe", "pipe", "ipc"], env: memberEnv },
    );
    children.push(child);
    const prefix = (b: Buffer) =>
      b
        .toString()
        .split("\n")
        .filter(Boolean)
        .map((line) => `[${m.name}] ${line}\n`)
        .join("");
    child.stderr?.on("data", (b: Buffer) => process.stderr.write(prefix(b)));
    ready.push(
      new Promise<void>((resolveReady, reject) => {
        child.stdout?.on("data", (b: Buffer) => {
          if (b.toString().includes('"ready":true')) resolveReady();
          else process.stdout.write(prefix(b));
        });
        child.once("exit", (code) =>
          reject(
            new Error(
              stopping
                ? `${m.name} stopped before it was ready`
                : `${m.name} exited with code ${code} before it was ready`,
            ),
          ),
        );
        setTimeout(
          () => reject(new Error(`${m.name} was not ready within ${READY_WITHIN_MS / 1000} s`)),
          READY_WITHIN_MS,
        ).unref();
      }),
    );
  }
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
  };
  const exited = new Promise<number>((resolveExit) => {
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    let count = 0;
    let failed = false;
    for (const c of children) {
      c.once("exit", (code) => {
        count++;
        if (code !== 0) failed = true;
        if (!stopping && code !== 0) {
          process.stderr.write(`a member exited with code ${code}; stopping the cluster\n`);
          stop();
        }
        if (count === children.length) resolveExit(failed || !stopping ? 1 : 0);
      });
    }
  });
  try {
    await Promise.all(ready);
  } catch (err) {
    process.stderr.write(
      `conclave start: ${(err as Error).message}\n` +
        "  (a port in use? choose others with --client-port and --peer-port)\n",
    );
    stop();
    await exited;
    return 1;
  }
  const urls = plan.members.map((m) => m.clientUrl as string);
  process.stdout.write(
    `conclave: ${plan.members.length} members serving, data in ${plan.dataDir}\n` +
      plan.members
        .map(
          (m) =>
            `  ${m.name} (id ${m.id})  ${m.clientUrl}` +
            (m.grpcPort === undefined ? "" : `  etcd gRPC 127.0.0.1:${m.grpcPort}`) +
            "\n",
        )
        .join(""),
  );
  const leader = stopping ? undefined : await findLeader(urls);
  process.stdout.write(
    leader === undefined
      ? "no leader elected yet\n"
      : `leader: n${leader.id} ${leader.url}\n` +
          `  try: curl -s -X POST ${leader.url}/v3/kv/put -H 'content-type: application/json' -d '{"key":"Zm9v","value":"YmFy"}'\n` +
          `  dashboard: ${urls[0]}/ui\n` +
          "Ctrl-C stops the cluster.\n",
  );
  return exited;
}
