#!/usr/bin/env node
/**
 * The `conclave` command. Subcommands arrive with the modules they drive; until
 * then it explains what exists.
 */
import { readFileSync } from "node:fs";

const HELP = `conclave — consistent hashing, distributed locks and Raft consensus

Usage:
  conclave help              show this help
  conclave version           print the version

Available today as a library:
  conclave/hashring          consistent hashing (ring, ketama, jump, rendezvous,
                             maglev, bounded loads, migration plans)

Coming with later releases: serve, put, get, watch, lock, elect.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

export function main(argv: readonly string[]): number {
  const [command = "help"] = argv;
  switch (command) {
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

process.exitCode = main(process.argv.slice(2));
