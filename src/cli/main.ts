#!/usr/bin/env node
/**
 * The `conclave` command: the server (serve, start), the client commands
 * (client-process.ts) and the lock commands (lock, elect).
 */
import { readFileSync } from "node:fs";

// Each command loads its own modules when it runs: `serve` never pays for the
// client commands or the lock backends' drivers, so a member's heap holds
// only what it runs, and a restarted member serves sooner.

const HELP = `conclave — consistent hashing, distributed locks and Raft consensus

Usage:
  conclave serve [flags]     run one cluster member (conclave serve --help)
  conclave start [--nodes 3] [--data-dir ./data] [--client-port 7379] [--peer-port 7380]
                             run a local cluster of serve processes
  conclave help              show this help
  conclave version           print the version
  conclave lock NAME [--ttl S] [--wait S] -- COMMAND...
                             run COMMAND holding a distributed lock (lock --help)
  conclave elect NAME [VALUE] [--json]
                             campaign for leadership, print changes (elect --help)

Libraries:
  conclave/hashring          consistent hashing (ring, ketama, jump, rendezvous,
                             maglev, bounded loads, migration plans)
  conclave/raft              the Raft core; conclave/raft/node, /raft/storage
  conclave/kv                the MVCC key space; conclave/client, the server's SDK
  conclave/lock              locks, rwlocks, semaphores, elections (memory backend);
                             backends: conclave/lock/conclave, and with their
                             driver installed: /lock/redis (ioredis), /redlock
                             (ioredis), /postgres (pg), /etcd (etcd3),
                             /zookeeper (node-zookeeper-client)
  conclave/registry          service registration on leases, health checks,
                             discovery by watch (conclave service --help)
  conclave/server            the member's HTTP API, to embed (createServer)

`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command = "help", ...rest] = argv;
  switch (command) {
    case "serve":
      return (await import("./serve.js")).serve(rest);
    case "start":
      return (await import("./start.js")).start(rest);
    case "version":
    case "--version":
    case "-v":
      process.stdout.write(`${version()}\n`);
      return 0;
    case "lock":
      return (await import("./lock.js")).lockCommand(rest);
    case "elect":
      return (await import("./elect.js")).electCommand(rest);
  }
  // No client command shares a name with those above.
  const client = await import("./client-process.js");
  if (client.isClientCommand(argv)) return client.runClientProcess(argv);
  switch (command) {
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(HELP + client.CLIENT_HELP);
      return 0;
    default:
      process.stderr.write(`conclave: unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`conclave: ${(err as Error).message}\n`);
    process.exitCode = 2;
  },
);
