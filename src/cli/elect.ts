/**
 * `conclave elect NAME [VALUE] [--ttl S] [--endpoints URL,...] [--json]`:
 * campaigns for leadership of NAME on a Conclave cluster, prints every
 * leadership change as one line, and resigns on SIGINT or SIGTERM.
 * `conclave elect NAME --listen` only prints the changes (etcdctl's `elect -l`).
 */
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import {
  type Election,
  type LeaderHandle,
  type LeaderSnapshot,
  LockAbortedError,
  MAX_LEADER_VALUE_LENGTH,
} from "../lock/index.js";
import type { ConnectionFlags } from "./connection-flags.js";
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

export const ELECT_USAGE = `Usage: conclave elect NAME [VALUE] [options]
       conclave elect NAME --listen [options]

Campaigns for leadership of the election NAME, proclaiming VALUE (default
HOSTNAME:PID) once elected. Prints one line per leadership change until
SIGINT or SIGTERM, then resigns (if leading) and exits 0. With --listen,
only prints the leadership changes, without campaigning.

Lines (text):   leader VALUE token=N | no leader | elected VALUE token=N |
                resigned | lost ... (on stderr)
Lines (--json): {"event":"leader","value":"...","fencingToken":"N"}
                {"event":"none"}  {"event":"elected","value":"...","fencingToken":"N"}
                {"event":"resigned"}

Options:
  -l, --listen         observe only: print leadership changes, never campaign
                       (VALUE and --ttl are not allowed with it)
  --ttl SECONDS        leadership lease, renewed every third of it (default 10)
  --endpoints URL,...  cluster members (default: $CONCLAVE_ENDPOINTS, else
                       the three members conclave start runs)
${CONNECTION_USAGE}  --json               print JSON lines
  -h, --help           show this help

Exit status: 0 after resigning on a signal; 2 bad usage; 122 leadership was
lost; 125 the cluster could not be reached or answered with an error.
`;

interface ElectArgs {
  readonly name: string;
  /** Observe only, never campaign. */
  readonly listen: boolean;
  readonly value: string;
  readonly endpoints: string[];
  readonly connection: ConnectionFlags;
  readonly ttlMs: number;
  readonly json: boolean;
}

function parseElectArgs(argv: readonly string[]): ElectArgs | "help" {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      listen: { type: "boolean", short: "l" },
      ttl: { type: "string" },
      endpoints: { type: "string" },
      ...CONNECTION_PARSE_OPTIONS,
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) return "help";
  const listen = values.listen === true;
  const [name, given, ...extra] = positionals;
  if (name === undefined || name.length === 0) throw new UsageError("NAME is missing");
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  if (listen && given !== undefined) {
    throw new UsageError("VALUE is not allowed with --listen (a listener does not campaign)");
  }
  if (listen && values.ttl !== undefined) {
    throw new UsageError("--ttl is not allowed with --listen (a listener holds no lease)");
  }
  const value = given ?? `${hostname()}:${process.pid}`;
  if (value.length > MAX_LEADER_VALUE_LENGTH) {
    throw new UsageError(`VALUE is longer than ${MAX_LEADER_VALUE_LENGTH} characters`);
  }
  return {
    name,
    listen,
    value,
    endpoints: endpointsFrom(values.endpoints, process.env),
    connection: connectionFrom(values, process.env),
    ttlMs: secondsFlag(values.ttl, "--ttl", 10_000, 1000, 2_147_483_647),
    json: values.json === true,
  };
}

type Event =
  | { readonly event: "leader" | "elected"; readonly value: string; readonly fencingToken: bigint }
  | { readonly event: "none" | "resigned" };

function print(event: Event, json: boolean): void {
  if (!("value" in event)) {
    const text = event.event === "none" ? "no leader" : "resigned";
    process.stdout.write(json ? `${JSON.stringify({ event: event.event })}\n` : `${text}\n`);
    return;
  }
  const token = event.fencingToken.toString();
  process.stdout.write(
    json
      ? `${JSON.stringify({ event: event.event, value: event.value, fencingToken: token })}\n`
      : `${event.event} ${event.value} token=${token}\n`,
  );
}

function snapshotEvent(snapshot: LeaderSnapshot<bigint> | undefined): Event {
  return snapshot === undefined
    ? { event: "none" }
    : { event: "leader", value: snapshot.value, fencingToken: snapshot.fencingToken };
}

export async function electCommand(argv: readonly string[]): Promise<number> {
  const args = parseOrExit("elect", ELECT_USAGE, () => parseElectArgs(argv));
  if (typeof args === "number") return args;
  const security = await securityOrExit("elect", ELECT_USAGE, args.connection);
  if (typeof security === "number") return security;
  const locks = conclaveLocks(args.endpoints, security);
  const election = locks.election(args.name);
  const termination = terminationSignal();
  if (args.listen) {
    try {
      return await listen(election, args, termination.signal);
    } finally {
      termination.dispose();
      await locks.destroy();
    }
  }
  const stopObserving = new AbortController();
  const observing = (async () => {
    for await (const snapshot of election.observe({ signal: stopObserving.signal })) {
      print(snapshotEvent(snapshot), args.json);
    }
  })();
  // Settles only on failure: observing runs until stopped.
  const observeFailed = observing.then(
    () => new Promise<never>(() => {}),
    (error: unknown) => ({ failed: error }),
  );
  try {
    const campaign = election
      .campaign(args.value, { ttlMs: args.ttlMs, signal: termination.signal })
      .then((handle) => ({ handle }));
    const first = await Promise.race([campaign, observeFailed]).catch((error: unknown) => ({
      failed: error,
    }));
    if ("failed" in first) {
      if (first.failed instanceof LockAbortedError && termination.signal.aborted) return 0;
      process.stderr.write(`conclave elect: ${describeLockError(first.failed)}\n`);
      return EXIT.lockServiceFailed;
    }
    return await lead(first.handle, args, termination.signal, observeFailed);
  } finally {
    stopObserving.abort();
    await observing.catch(() => {});
    termination.dispose();
    await locks.destroy();
  }
}

/** Prints every leadership change until a signal (exit 0) or an observe failure (125). */
async function listen(
  election: Election<bigint>,
  args: ElectArgs,
  terminate: AbortSignal,
): Promise<number> {
  try {
    for await (const snapshot of election.observe({ signal: terminate })) {
      print(snapshotEvent(snapshot), args.json);
    }
  } catch (error) {
    if (!terminate.aborted) {
      process.stderr.write(`conclave elect: ${describeLockError(error)}\n`);
      return EXIT.lockServiceFailed;
    }
  }
  return 0;
}

/** Holds leadership until a signal (resign, exit 0), its loss (122) or an observe failure (125). */
async function lead(
  handle: LeaderHandle<bigint>,
  args: ElectArgs,
  terminate: AbortSignal,
  observeFailed: Promise<{ failed: unknown }>,
): Promise<number> {
  print({ event: "elected", value: handle.value, fencingToken: handle.fencingToken }, args.json);
  const until = (signal: AbortSignal, what: "terminate" | "lost") =>
    new Promise<"terminate" | "lost">((resolve) => {
      if (signal.aborted) resolve(what);
      else signal.addEventListener("abort", () => resolve(what), { once: true });
    });
  const ended = await Promise.race([
    until(terminate, "terminate"),
    until(handle.signal, "lost"),
    observeFailed,
  ]);
  if (ended === "terminate") {
    await handle.resign().catch(() => {});
    print({ event: "resigned" }, args.json);
    return 0;
  }
  if (ended === "lost") {
    const reason = handle.signal.reason as Error | undefined;
    process.stderr.write(`conclave elect: lost leadership of "${args.name}": ${reason?.message}\n`);
    return EXIT.lockLost;
  }
  process.stderr.write(`conclave elect: ${describeLockError(ended.failed)}\n`);
  await handle.resign().catch(() => {});
  return EXIT.lockServiceFailed;
}
