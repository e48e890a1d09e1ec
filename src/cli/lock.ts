/**
 * `conclave lock NAME [--ttl S] [--wait S] [--grace S] [--endpoints URL,...] -- COMMAND...`:
 * runs COMMAND while holding the mutex NAME on a Conclave cluster, like
 * `flock` across machines. The command sees the fencing token in
 * CONCLAVE_FENCING_TOKEN; it is stopped if the lock is lost.
 */
import type { ChildProcess } from "node:child_process";
import { constants } from "node:os";
import { parseArgs } from "node:util";
import {
  LockAbortedError,
  type LockHandle,
  LockTimeoutError,
  NotLockOwnerError,
} from "../lock/index.js";
import type { ConnectionFlags } from "./connection-flags.js";
import { spawnDyingWithParent } from "./die-with-parent.js";
import {
  CONNECTION_PARSE_OPTIONS,
  CONNECTION_USAGE,
  conclaveLocks,
  connectionFrom,
  describeLockError,
  EXIT,
  endpointsFrom,
  parseOrExit,
  secondsFlag,
  securityOrExit,
  terminationSignal,
  UsageError,
} from "./lock-options.js";

export const LOCK_USAGE = `Usage: conclave lock NAME [options] -- COMMAND [ARGS...]

Runs COMMAND while holding the distributed mutex NAME. The command gets
CONCLAVE_FENCING_TOKEN (strictly increasing per NAME) and CONCLAVE_LOCK_NAME
in its environment. If the lock is lost while it runs, the command gets
SIGTERM, then SIGKILL after the grace period. The lock is released when the
command exits. If this process is killed (even with SIGKILL), the command is
killed too (Linux: setpriv --pdeathsig; elsewhere a small supervisor
process). The fencing token, not this, is what protects shared resources.

Options:
  --ttl SECONDS        lease length, renewed every third of it (default 30)
  --wait SECONDS       give up if not acquired within this long; 0 = one try
                       (default: wait until acquired)
  --grace SECONDS      time between SIGTERM and SIGKILL when the lock is lost
                       (default 5)
  --endpoints URL,...  cluster members (default: $CONCLAVE_ENDPOINTS, else
                       the three members conclave start runs)
${CONNECTION_USAGE}  -h, --help           show this help

Exit status: the command's own (128+N if it died of signal N), or
  2    bad usage
  122  the lock was lost while the command ran (the command was stopped)
  124  the lock was not acquired within --wait
  125  the cluster could not be reached or answered with an error
  126  the command could not be started; 127 the command was not found
`;

interface LockArgs {
  readonly name: string;
  readonly command: readonly [string, ...string[]];
  readonly endpoints: string[];
  readonly connection: ConnectionFlags;
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly graceMs: number;
}

const MAX_SECONDS_MS = 2_147_483_647;

function parseLockArgs(argv: readonly string[]): LockArgs | "help" {
  const split = argv.indexOf("--");
  const own = split === -1 ? [...argv] : argv.slice(0, split);
  const { values, positionals } = parseArgs({
    args: own,
    options: {
      ttl: { type: "string" },
      wait: { type: "string" },
      grace: { type: "string" },
      endpoints: { type: "string" },
      ...CONNECTION_PARSE_OPTIONS,
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) return "help";
  const [name, ...extra] = positionals;
  if (name === undefined || name.length === 0) throw new UsageError("NAME is missing");
  if (extra.length > 0) {
    throw new UsageError(`unexpected ${JSON.stringify(extra[0])}: put the command after "--"`);
  }
  const command = split === -1 ? [] : argv.slice(split + 1);
  const [program, ...args] = command;
  if (program === undefined || program.length === 0) {
    throw new UsageError('COMMAND is missing: put it after "--"');
  }
  return {
    name,
    command: [program, ...args],
    endpoints: endpointsFrom(values.endpoints, process.env),
    connection: connectionFrom(values, process.env),
    ttlMs: secondsFlag(values.ttl, "--ttl", 30_000, 1000, MAX_SECONDS_MS),
    waitMs: secondsFlag(values.wait, "--wait", Number.POSITIVE_INFINITY, 0, MAX_SECONDS_MS),
    graceMs: secondsFlag(values.grace, "--grace", 5000, 0, 3_600_000),
  };
}

export async function lockCommand(argv: readonly string[]): Promise<number> {
  const args = parseOrExit("lock", LOCK_USAGE, () => parseLockArgs(argv));
  if (typeof args === "number") return args;
  const security = await securityOrExit("lock", LOCK_USAGE, args.connection);
  if (typeof security === "number") return security;
  const locks = conclaveLocks(args.endpoints, security);
  const termination = terminationSignal();
  try {
    let lock: LockHandle<bigint>;
    try {
      lock = await locks.acquire(args.name, {
        ttlMs: args.ttlMs,
        waitMs: args.waitMs,
        signal: termination.signal,
      });
    } catch (error) {
      return acquireFailure(error, args, termination.received());
    }
    return await runHolding(lock, args, termination);
  } finally {
    termination.dispose();
    await locks.destroy();
  }
}

function acquireFailure(
  error: unknown,
  args: LockArgs,
  received: NodeJS.Signals | undefined,
): number {
  if (error instanceof LockTimeoutError) {
    process.stderr.write(
      `conclave lock: "${args.name}" was not acquired within ${args.waitMs / 1000} s\n`,
    );
    return EXIT.timedOut;
  }
  if (error instanceof LockAbortedError && received !== undefined) {
    return 128 + (constants.signals[received] ?? 0);
  }
  process.stderr.write(`conclave lock: ${describeLockError(error)}\n`);
  return EXIT.lockServiceFailed;
}

/** Runs the command under the lock; stops it if the lock is lost; releases afterwards. */
async function runHolding(
  lock: LockHandle<bigint>,
  args: LockArgs,
  termination: ReturnType<typeof terminationSignal>,
): Promise<number> {
  const terminate = termination.signal;
  const [program, ...rest] = args.command;
  // If this process is killed outright, the command must not outlive it
  // holding a lock that passes on: it is started to die with this process.
  const { child } = spawnDyingWithParent(program, rest, {
    ...process.env,
    CONCLAVE_FENCING_TOKEN: lock.fencingToken.toString(),
    CONCLAVE_LOCK_NAME: args.name,
  });
  let lostReason: unknown;
  let killTimer: NodeJS.Timeout | undefined;
  const onLost = () => {
    lostReason = lock.signal.reason ?? new Error("the lock was lost");
    stopChild(child, args.graceMs, (timer) => {
      killTimer = timer;
    });
  };
  // Passed on, so that stopping `conclave lock` stops the command it runs.
  const onTerminate = () => {
    if (child.exitCode === null) child.kill(termination.received() ?? "SIGTERM");
  };
  lock.signal.addEventListener("abort", onLost, { once: true });
  terminate.addEventListener("abort", onTerminate, { once: true });
  const outcome = await childOutcome(child);
  clearTimeout(killTimer);
  lock.signal.removeEventListener("abort", onLost);
  terminate.removeEventListener("abort", onTerminate);

  if (lostReason !== undefined) {
    process.stderr.write(
      `conclave lock: lost "${args.name}" while the command ran (${describe(lostReason)}); the command was stopped\n`,
    );
    await lock.release().catch(() => {});
    return EXIT.lockLost;
  }
  try {
    await lock.release();
  } catch (error) {
    if (error instanceof NotLockOwnerError) {
      process.stderr.write(
        `conclave lock: "${args.name}" had passed to another holder before the command ended\n`,
      );
      return EXIT.lockLost;
    }
    // The command's outcome stands; the lease runs out on the server.
    process.stderr.write(`conclave lock: release failed: ${(error as Error).message}\n`);
  }
  if (outcome.kind === "spawn-error") {
    process.stderr.write(
      `conclave lock: cannot run ${JSON.stringify(program)}: ${outcome.message}\n`,
    );
  }
  return outcome.code;
}

type ChildOutcome =
  | { readonly kind: "exited"; readonly code: number }
  | { readonly kind: "spawn-error"; readonly code: number; readonly message: string };

function childOutcome(child: ChildProcess): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    child.once("error", (error: NodeJS.ErrnoException) => {
      const code = error.code === "ENOENT" ? EXIT.notFound : EXIT.cannotRun;
      resolve({ kind: "spawn-error", code, message: error.message });
    });
    child.once("exit", (code, signal) => {
      const bySignal = signal === null ? undefined : constants.signals[signal];
      resolve({ kind: "exited", code: code ?? 128 + (bySignal ?? 0) });
    });
  });
}

/** SIGTERM now, SIGKILL after the grace period unless the child exited. */
function stopChild(
  child: ChildProcess,
  graceMs: number,
  onTimer: (timer: NodeJS.Timeout) => void,
): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  onTimer(
    setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }, graceMs),
  );
}

function describe(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
