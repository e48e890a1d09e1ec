#!/usr/bin/env node
/**
 * The `conclave` command. Subcommands arrive with the modules they drive; until
 * then it explains what exists.
 */
import { readFileSync } from "node:fs";
import { serve } from "./serve.js";
import { start } from "./start.js";

const HELP = `conclave — consistent hashing, distributed locks and Raft consensus

Usage:
  conclave serve [flags]     run one cluster member (conclave serve --help)
  conclave start [--nodes 3] [--data-dir ./data] [--client-port 2379] [--peer-port 2380]
                             run a local cluster of serve processes
  conclave help              show this help
  conclave version           print the version

Libraries:
  conclave/hashring          consistent hashing (ring, ketama, jump, rendezvous,
                             maglev, bounded loads, migration plans)
  conclave/raft              the Raft core; conclave/raft/node, /raft/storage
  conclave/lock              locks, rwlocks, semaphores, elections over memory,
                             Redis, Redlock, PostgreSQL, etcd, ZooKeeper

Coming with later releases: put, get, watch, lock, elect.
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
      return serve(rest);
    case "start":
      return start(rest);
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(HELP);
      return 0;
    case "version":
    case "--version":
    case "-v":
      process.stdout.write(`${version()}\n`);
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
