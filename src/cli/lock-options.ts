/**
 * What `conclave lock` and `conclave elect` share: the cluster endpoints
 * (flag, CONCLAVE_ENDPOINTS, or the local default), second-valued flags,
 * usage errors and the exit codes of lock outcomes.
 */
import { ConclaveLockBackend } from "../lock/conclave/index.js";
import { LockClient } from "../lock/index.js";
import { parseEndpoints } from "./args.js";

/** Exit codes of the lock commands (a command's own code passes through unchanged). */
export const EXIT = {
  usage: 2,
  /** The lock (or leadership) was lost while held; the command was stopped. */
  lockLost: 122,
  /** The lock was not acquired within --wait. */
  timedOut: 124,
  /** The cluster could not be reached, or answered with an error. */
  lockServiceFailed: 125,
  /** The command exists but could not be started. */
  cannotRun: 126,
  /** The command was not found. */
  notFound: 127,
} as const;

/** A bad flag or argument: printed with the usage, exit 2. */
export class UsageError extends Error {
  readonly code = "CLI_USAGE";
}

/** Endpoints from `--endpoints a,b`, else CONCLAVE_ENDPOINTS, else the local default. */
export function endpointsFrom(flag: string | undefined, env: NodeJS.ProcessEnv): string[] {
  return parseEndpoints(flag, env, (message) => {
    throw new UsageError(message);
  });
}

/** A flag in seconds (fractions allowed) as whole milliseconds, within [minMs, maxMs]. */
export function secondsFlag(
  value: string | undefined,
  flag: string,
  fallbackMs: number,
  minMs: number,
  maxMs: number,
): number {
  if (value === undefined) return fallbackMs;
  const seconds = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
  const ms = Math.round(seconds * 1000);
  if (!Number.isFinite(ms) || ms < minMs || ms > maxMs) {
    throw new UsageError(
      `${flag} must be a number of seconds from ${minMs / 1000} to ${maxMs / 1000}, got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

/** A lock client on the conclave backend over `endpoints`. */
export function conclaveLocks(endpoints: readonly string[]): LockClient<bigint> {
  return new LockClient(new ConclaveLockBackend({ endpoints }));
}

/** SIGINT/SIGTERM as an AbortSignal (and the signal's name), until `dispose`. */
export function terminationSignal(): {
  readonly signal: AbortSignal;
  readonly received: () => NodeJS.Signals | undefined;
  dispose(): void;
} {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const on = (name: NodeJS.Signals) => {
    received ??= name;
    controller.abort(new Error(`received ${name}`));
  };
  process.on("SIGINT", on);
  process.on("SIGTERM", on);
  return {
    signal: controller.signal,
    received: () => received,
    dispose() {
      process.off("SIGINT", on);
      process.off("SIGTERM", on);
    },
  };
}

/**
 * Parses a lock command's arguments, or answers `--help` (exit 0) or a usage
 * error (the problem and the usage, exit 2): a number is the exit code.
 */
export function parseOrExit<T>(
  command: string,
  usage: string,
  parse: () => T | "help",
): T | number {
  let parsed: T | "help";
  try {
    parsed = parse();
  } catch (error) {
    process.stderr.write(`conclave ${command}: ${(error as Error).message}\n\n${usage}`);
    return EXIT.usage;
  }
  if (parsed === "help") {
    process.stdout.write(usage);
    return 0;
  }
  return parsed;
}
