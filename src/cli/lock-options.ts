/**
 * What `conclave lock` and `conclave elect` share: the cluster endpoints
 * (flag, CONCLAVE_ENDPOINTS, or the local default), second-valued flags,
 * usage errors and the exit codes of lock outcomes.
 */
import { type ConclaveClientSecurity, ConclaveLockBackend } from "../lock/conclave/index.js";
import { LockAccessDeniedError, LockClient } from "../lock/index.js";
import { parseEndpoints } from "./args.js";
import {
  CONNECTION_OPTIONS,
  type ConnectionFlags,
  clientConnectionOptions,
  resolveConnection,
  withPassword,
} from "./connection-flags.js";
import { terminalPasswordPrompt } from "./password-prompt.js";

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

/** The `--user`, `--cacert`, `--cert` and `--key` flags, for node:util's parseArgs. */
export const CONNECTION_PARSE_OPTIONS = {
  user: { type: CONNECTION_OPTIONS.user.type },
  cacert: { type: CONNECTION_OPTIONS.cacert.type },
  cert: { type: CONNECTION_OPTIONS.cert.type },
  key: { type: CONNECTION_OPTIONS.key.type },
} as const;

/** Usage lines of the connection flags, in the lock commands' layout. */
export const CONNECTION_USAGE = `  --user NAME[:PASSWORD]
                       authenticate as NAME (default: $CONCLAVE_USER); the
                       password from $CONCLAVE_PASSWORD, else asked for at a
                       terminal
  --cacert FILE        trust these PEM CA certificates for https endpoints
                       (default: $CONCLAVE_CACERT)
  --cert FILE          present this PEM client certificate, with --key FILE
                       (default: $CONCLAVE_CERT, $CONCLAVE_KEY)
`;

/** The connection flags of a lock command (or their environment variables). */
export function connectionFrom(
  values: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv,
): ConnectionFlags {
  return resolveConnection(values, env, (message) => {
    throw new UsageError(message);
  });
}

/**
 * The SDK's TLS and credential options for a lock command: the password
 * asked for at a terminal if it was not given, the TLS files read. A problem
 * is printed with the usage and answered with its exit code.
 */
export async function securityOrExit(
  command: string,
  usage: string,
  flags: ConnectionFlags,
): Promise<ConclaveClientSecurity | number> {
  try {
    const user = await withPassword(flags.user, terminalPasswordPrompt(), (message) => {
      throw new UsageError(message);
    });
    return clientConnectionOptions({ ...flags, ...(user !== undefined && { user }) });
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`conclave ${command}: ${error.message}\n\n${usage}`);
      return EXIT.usage;
    }
    process.stderr.write(`conclave ${command}: ${(error as Error).message}\n`);
    return EXIT.lockServiceFailed;
  }
}

/** A lock client on the conclave backend over `endpoints`, connecting as `security` says. */
export function conclaveLocks(
  endpoints: readonly string[],
  security: ConclaveClientSecurity = {},
): LockClient<bigint> {
  return new LockClient(new ConclaveLockBackend({ endpoints, ...security }));
}

/**
 * A lock failure for people: the backend's message, and the server's code
 * when a refusal caused it (AUTH_FAILED, PERMISSION_DENIED, ...), which the
 * backend's own wording would otherwise hide.
 */
export function describeLockError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof LockAccessDeniedError) {
    return `${message} (check --user and its password, and that its roles grant readwrite on the lock keys (prefix conclave/lock/))`;
  }
  const cause =
    error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === "string" ? `${message} (${cause.code})` : message;
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
