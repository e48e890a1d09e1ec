/**
 * A small replicated key-value node process: RaftNode on a WAL in `--data-dir`,
 * TCP peer transport, and a small HTTP/JSON client API. The real-process Raft
 * tests (test/raft/process) run it; `conclave serve` is the server process.
 *
 *   conclave-devnode --id 1 --data-dir .data/n1 --peer 127.0.0.1:7001 \
 *     --client 127.0.0.1:8001 --initial-cluster 1=127.0.0.1:7001,2=...,3=...
 *
 * Prints one JSON line `{"ready":true,...}` once serving; exits 0 on SIGTERM
 * after a graceful stop.
 */
import { parseArgs } from "node:util";
import { InvalidArgumentError } from "../errors.js";
import type { NodeId } from "../raft/core/index.js";
import { RaftNode } from "../raft/node/index.js";
import { WalStorage } from "../raft/storage/index.js";
import { parsePeerAddress, TcpTransport } from "../raft/transport/index.js";
import type { KvOutput } from "../sim/kv.js";
import { createKvHttpServer } from "./http-api.js";
import { KvMachine } from "./state-machine.js";

export interface DevNodeConfig {
  readonly id: NodeId;
  readonly dataDir: string;
  readonly peer: string;
  readonly client: string;
  readonly initialCluster: Map<NodeId, string>;
  readonly join: boolean;
  readonly clusterId: string;
  readonly secret: string;
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly snapshotEvery: number;
  /** Entries kept behind a snapshot for slow followers; beyond that they get the snapshot. */
  readonly catchUpEntries: number;
  /** Per-peer dial address overrides (e.g. through a test proxy): id -> host:port. */
  readonly routes: Map<NodeId, string>;
}

function parseCluster(text: string): Map<NodeId, string> {
  const out = new Map<NodeId, string>();
  for (const part of text.split(",").filter(Boolean)) {
    const [id, addr] = part.split("=");
    const n = Number(id);
    if (!Number.isSafeInteger(n) || n <= 0 || addr === undefined) {
      throw new InvalidArgumentError(`--initial-cluster entry "${part}" must be id=host:port`);
    }
    parsePeerAddress(addr);
    out.set(n, addr);
  }
  return out;
}

function num(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`--${name} must be a positive number, got "${v}"`);
  return n;
}

export function parseDevNodeArgs(argv: readonly string[]): DevNodeConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      id: { type: "string" },
      "data-dir": { type: "string" },
      peer: { type: "string" },
      client: { type: "string" },
      "initial-cluster": { type: "string" },
      join: { type: "boolean", default: false },
      "cluster-id": { type: "string", default: "conclave-dev" },
      secret: { type: "string" },
      "heartbeat-ms": { type: "string" },
      "election-ms": { type: "string" },
      "snapshot-every": { type: "string" },
      "catch-up-entries": { type: "string" },
      route: { type: "string" },
    },
    strict: true,
  });
  const id = num(values.id, "id", Number.NaN);
  if (!Number.isSafeInteger(id)) throw new InvalidArgumentError("--id must be a positive integer");
  if (values["data-dir"] === undefined) throw new InvalidArgumentError("--data-dir is required");
  const peer = values.peer ?? "127.0.0.1:7001";
  parsePeerAddress(peer);
  const client = values.client ?? "127.0.0.1:8001";
  parsePeerAddress(client);
  // No default: a secret everyone knows authenticates nobody.
  const secret = values.secret ?? process.env.CONCLAVE_SECRET;
  if (secret === undefined || secret === "") {
    throw new InvalidArgumentError("a cluster secret is required (CONCLAVE_SECRET or --secret)");
  }
  return {
    id,
    dataDir: values["data-dir"],
    peer,
    client,
    initialCluster: parseCluster(values["initial-cluster"] ?? `${id}=${peer}`),
    join: values.join ?? false,
    clusterId: values["cluster-id"] ?? "conclave-dev",
    secret,
    heartbeatMs: num(values["heartbeat-ms"], "heartbeat-ms", 100),
    electionMs: num(values["election-ms"], "election-ms", 1000),
    snapshotEvery: num(values["snapshot-every"], "snapshot-every", 10_000),
    catchUpEntries:
      values["catch-up-entries"] === "0"
        ? 0
        : num(values["catch-up-entries"], "catch-up-entries", 1000),
    routes: parseCluster(values.route ?? ""),
  };
}

export async function runDevNode(cfg: DevNodeConfig): Promise<{ stop: () => Promise<void> }> {
  const storage = await WalStorage.open(cfg.dataDir, {
    clusterId: cfg.clusterId,
    nodeId: cfg.id,
    snapshotCatchUpEntries: cfg.catchUpEntries,
  });
  const transport = new TcpTransport({
    nodeId: cfg.id,
    clusterId: cfg.clusterId,
    secret: cfg.secret,
    listen: parsePeerAddress(cfg.peer),
  });
  // Dial some peers at another address (a fault-injecting proxy in tests).
  const addPeer = transport.addPeer.bind(transport);
  transport.addPeer = (peerId, address) => {
    const routed = cfg.routes.get(peerId);
    addPeer(peerId, routed === undefined ? address : parsePeerAddress(routed));
  };
  const machine = new KvMachine();
  let fatal: Error | undefined;
  const node = await RaftNode.start<KvOutput>({
    id: cfg.id,
    storage,
    transport,
    stateMachine: machine,
    initialCluster: cfg.initialCluster,
    join: cfg.join,
    heartbeatMs: cfg.heartbeatMs,
    electionMs: cfg.electionMs,
    snapshotEveryEntries: cfg.snapshotEvery,
    onFatal: (err) => {
      fatal = err;
      process.stderr.write(`fatal: ${err.stack ?? err.message}\n`);
      process.exitCode = 70;
    },
  });
  const server = createKvHttpServer(node, {
    get: (key) => machine.kv.get(key),
  });
  const clientAddr = parsePeerAddress(cfg.client);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(clientAddr.port, clientAddr.host, () => resolve());
  });
  process.stdout.write(
    `${JSON.stringify({ ready: true, id: cfg.id, pid: process.pid, peer: cfg.peer, client: cfg.client, recovery: storage.recovery })}\n`,
  );
  return {
    stop: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (fatal === undefined) await node.stop();
    },
  };
}

const isMain =
  process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/"));
if (isMain) {
  try {
    const running = await runDevNode(parseDevNodeArgs(process.argv.slice(2)));
    const shutdown = (): void => {
      running.stop().then(
        () => process.exit(process.exitCode ?? 0),
        (err: unknown) => {
          process.stderr.write(`stop failed: ${String(err)}\n`);
          process.exit(1);
        },
      );
    };
    process.once("SIGTERM", shutdown);
    process.once("SIGINT", shutdown);
    // Started with an IPC channel: stop when the parent goes away, however it ends.
    if (process.send !== undefined) process.once("disconnect", shutdown);
  } catch (err) {
    process.stderr.write(`conclave-devnode: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
