/**
 * A member holds a file descriptor per client connection, peer link, WAL
 * segment and snapshot file. A soft RLIMIT_NOFILE of 1,024 (the usual default)
 * lets a modest flood of connections starve the files it must open; the hard
 * limit is usually far higher, and a process may raise its own soft limit up
 * to it. Node has no setrlimit, so this asks util-linux's `prlimit` to do it
 * for this process, and says so loudly when it cannot.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  type ClientConnectionOptions,
  type ResolvedClientConnections,
  resolveClientConnections,
} from "../client-connections.js";
import { type OpenFileLimits, readOpenFileLimits } from "../fd-limits.js";

export interface LimitLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Below this soft limit a member serves, but a warning says how few clients it can take. */
export const LOW_OPEN_FILE_LIMIT = 4096;
/** Where "unlimited" hard limits are taken to: the kernel's usual nr_open. */
const UNLIMITED_TARGET = 1_048_576;
const PRLIMIT_TIMEOUT_MS = 5000;

export interface RaiseOptions {
  readonly pid?: number;
  /** Runs `prlimit` with these arguments; default: execFile. */
  readonly runPrlimit?: (args: readonly string[]) => Promise<void>;
  readonly readLimits?: () => OpenFileLimits | undefined;
}

const execFileAsync = promisify(execFile);

async function defaultRunPrlimit(args: readonly string[]): Promise<void> {
  await execFileAsync("prlimit", [...args], { timeout: PRLIMIT_TIMEOUT_MS });
}

/** Raises the soft open-file limit to the hard one where permitted; returns the limits in force. */
export async function raiseOpenFileLimit(
  log: LimitLogger,
  options: RaiseOptions = {},
): Promise<OpenFileLimits | undefined> {
  const read = options.readLimits ?? (() => readOpenFileLimits());
  const before = read();
  if (before === undefined) {
    log.warn(
      {},
      "cannot read the open-file limit (no /proc/self/limits); assuming 1024 for connection limits",
    );
    return undefined;
  }
  const target = before.hard ?? UNLIMITED_TARGET;
  if (before.soft !== undefined && before.soft < target) {
    try {
      await (options.runPrlimit ?? defaultRunPrlimit)([
        "--pid",
        String(options.pid ?? process.pid),
        `--nofile=${target}:`,
      ]);
    } catch (err) {
      log.warn(
        { soft: before.soft, hard: before.hard, err: (err as Error).message },
        "could not raise the soft open-file limit with prlimit (util-linux); raise it with `ulimit -n` before start",
      );
    }
  }
  const after = read() ?? before;
  if (after.soft !== undefined && after.soft < LOW_OPEN_FILE_LIMIT) {
    log.warn(
      { soft: after.soft, hard: after.hard },
      `the open-file limit is low (${after.soft}): few client connections fit; raise the hard limit (ulimit -Hn, LimitNOFILE=) to at least ${LOW_OPEN_FILE_LIMIT}`,
    );
  }
  log.info(
    {
      soft: after.soft ?? "unlimited",
      hard: after.hard ?? "unlimited",
      ...(after.soft !== before.soft && { raisedFrom: before.soft }),
    },
    "open-file limit",
  );
  return after;
}

/** Resolves the client connection limits against the fd limits in force, and logs them. */
export function chooseClientConnections(
  options: ClientConnectionOptions,
  fdLimits: OpenFileLimits | undefined,
  log: LimitLogger,
): ResolvedClientConnections {
  const chosen = resolveClientConnections(options, fdLimits);
  log.info({ ...chosen }, "client connection limits");
  return chosen;
}
