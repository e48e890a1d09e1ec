/**
 * The table of client commands and how one is run: find it (global flags may
 * come first), parse its flags, connect lazily, map failures to exit codes —
 * 2 with the command's usage for bad syntax, 1 with `conclave: CODE: message`
 * for everything a server or the file system refused.
 */
import { GLOBAL_OPTIONS, parseCommand, UsageError, usage, usageLine, wantsHelp } from "./args.js";
import type { CliClient } from "./client-port.js";
import type { CommandContext, CommandDef, CommandGroup } from "./command.js";
import { alarmGroup } from "./commands/alarm.js";
import { authGroup } from "./commands/auth.js";
import { compactionCommand } from "./commands/compaction.js";
import { delCommand, getCommand, putCommand } from "./commands/kv.js";
import { leaseGroup } from "./commands/lease.js";
import { memberGroup } from "./commands/member.js";
import { roleGroup } from "./commands/role.js";
import { serviceGroup } from "./commands/service.js";
import { shardGroup } from "./commands/shard.js";
import { snapshotRestoreCommand } from "./commands/snapshot-restore.js";
import { snapshotSaveCommand } from "./commands/snapshot-save.js";
import { endpointGroup, moveLeaderCommand, statusCommand } from "./commands/status.js";
import { txnCommand } from "./commands/txn.js";
import { userGroup } from "./commands/user.js";
import { watchCommand } from "./commands/watch.js";
import { type ConnectionFlags, type PasswordPrompt, withPassword } from "./connection-flags.js";
import { createOutput } from "./output.js";

const snapshotGroup: CommandGroup = {
  name: "snapshot",
  summary: "save a node's snapshot to a file; restore one into a new data dir (offline)",
  commands: [snapshotSaveCommand, snapshotRestoreCommand],
};

export const CLIENT_COMMANDS: ReadonlyMap<string, CommandDef | CommandGroup> = new Map<
  string,
  CommandDef | CommandGroup
>([
  ["put", putCommand],
  ["get", getCommand],
  ["del", delCommand],
  ["txn", txnCommand],
  ["watch", watchCommand],
  ["lease", leaseGroup],
  ["member", memberGroup],
  ["status", statusCommand],
  ["endpoint", endpointGroup],
  ["move-leader", moveLeaderCommand],
  ["snapshot", snapshotGroup],
  ["compaction", compactionCommand],
  ["alarm", alarmGroup],
  ["auth", authGroup],
  ["user", userGroup],
  ["role", roleGroup],
  ["service", serviceGroup],
  ["shard", shardGroup],
]);

/** One line per command for the top-level help. */
export function clientCommandsHelp(): string {
  const lines: string[] = [];
  for (const entry of CLIENT_COMMANDS.values()) {
    const defs = "commands" in entry ? entry.commands : [entry];
    for (const d of defs) lines.push(`  ${usageLine(d.spec)}`);
  }
  return `${lines.join("\n")}\n`;
}

function groupUsage(group: CommandGroup): string {
  const width = Math.max(...group.commands.map((c) => c.spec.name.length)) + 2;
  const lines = group.commands.map(
    (c) =>
      `  conclave ${c.spec.name.padEnd(width)}${c.spec.summary.split(". ")[0]?.replace(/\.$/, "")}`,
  );
  return `Usage: conclave ${group.name} COMMAND [flags]\n\n${group.summary}\n\nCommands:\n${lines.join("\n")}\n\nRun \`conclave ${group.name} COMMAND --help\` for a command's flags.\n`;
}

export interface RunDeps {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readStdin: () => Promise<string>;
  readonly connect: (options: ConnectOptions) => CliClient;
  /** Fires when the command should stop (SIGINT/SIGTERM). */
  readonly signal: AbortSignal;
  /** Asks for a password at the terminal; absent when standard input is not a terminal. */
  readonly promptPassword?: PasswordPrompt;
}

/** What a client command connects with. */
export interface ConnectOptions extends ConnectionFlags {
  readonly endpoints: readonly string[];
  readonly timeoutMs: number;
}

/**
 * Moves leading global flags (`conclave --endpoints X get k`) behind the
 * command words, so each command parses them with its own flags.
 */
export function splitCommand(argv: readonly string[]): { words: string[]; rest: string[] } {
  const leading: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i] ?? "";
    const [flag = "", inlineValue] = a.split("=", 2);
    const name = flag.replace(/^--/, "");
    const spec = Object.hasOwn(GLOBAL_OPTIONS, name) ? GLOBAL_OPTIONS[name] : undefined;
    if (!flag.startsWith("--") || spec === undefined || flag === "--help") break;
    leading.push(a);
    if (spec.type === "string" && inlineValue === undefined && i + 1 < argv.length) {
      leading.push(argv[++i] ?? "");
    }
  }
  const [command, ...after] = argv.slice(i);
  return { words: command === undefined ? [] : [command], rest: [...leading, ...after] };
}

/** Whether `argv` names a client command (possibly after global flags). */
export function isClientCommand(argv: readonly string[]): boolean {
  const { words } = splitCommand(argv);
  return words[0] !== undefined && CLIENT_COMMANDS.has(words[0]);
}

/** What to do about an auth refusal, after the server's own message. */
const AUTH_HINTS: Readonly<Record<string, string>> = {
  AUTH_REQUIRED: "authentication is on: pass --user NAME (or set $CONCLAVE_USER)",
  AUTH_FAILED: "check the user name and password",
  INVALID_AUTH_TOKEN: "the token was refused even after authenticating again; try again",
  PERMISSION_DENIED: "the user holds no role that allows this",
};

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === "string" ? e.message : String(err);
  // Node's file system errors already start with their code.
  if (typeof e?.code !== "string" || message.startsWith(`${e.code}:`)) return message;
  const hint = Object.hasOwn(AUTH_HINTS, e.code) ? ` (${AUTH_HINTS[e.code]})` : "";
  return `${e.code}: ${message}${hint}`;
}

export async function runClientCommand(argv: readonly string[], deps: RunDeps): Promise<number> {
  const { words, rest } = splitCommand(argv);
  const entry = CLIENT_COMMANDS.get(words[0] ?? "");
  if (entry === undefined) {
    deps.stderr(`conclave: unknown command "${words[0] ?? ""}"\n`);
    return 2;
  }
  let def: CommandDef;
  let args = rest;
  if ("commands" in entry) {
    const sub = rest.find((a) => !a.startsWith("-"));
    const found = entry.commands.find((c) => c.spec.name === `${entry.name} ${sub}`);
    if (found === undefined) {
      if (sub === undefined && wantsHelp(rest)) {
        deps.stdout(groupUsage(entry));
        return 0;
      }
      const problem = sub === undefined ? "missing subcommand" : `unknown subcommand "${sub}"`;
      deps.stderr(`conclave ${entry.name}: ${problem}\n\n${groupUsage(entry)}`);
      return 2;
    }
    def = found;
    args = [...rest];
    args.splice(rest.indexOf(sub ?? ""), 1);
  } else {
    def = entry;
  }
  let client: CliClient | undefined;
  try {
    const parsed = parseCommand(def.spec, args, deps.env);
    if (parsed.help) {
      deps.stdout(usage(def.spec));
      return 0;
    }
    const { globals } = parsed;
    const fail = (message: string): never => {
      throw new UsageError(message, usage(def.spec));
    };
    // Asked before the command runs, so a prompt never interleaves with its output.
    const user =
      def.offline === true
        ? undefined
        : await withPassword(globals.user, deps.promptPassword, fail);
    const ctx: CommandContext = {
      out: createOutput(globals.json, deps.stdout),
      globals,
      signal: deps.signal,
      call: { signal: deps.signal },
      readStdin: deps.readStdin,
      ...(deps.promptPassword !== undefined && { promptPassword: deps.promptPassword }),
      client: () => {
        client ??= deps.connect({
          endpoints: globals.endpoints,
          timeoutMs: globals.timeoutMs,
          ...(user !== undefined && { user }),
          ...(globals.tls !== undefined && { tls: globals.tls }),
        });
        return client;
      },
    };
    return await def.run(ctx, parsed.args, parsed.flags);
  } catch (err) {
    if (err instanceof UsageError) {
      deps.stderr(`conclave ${def.spec.name}: ${err.message}\n\n${err.usage}`);
      return 2;
    }
    // Ctrl-C during a single call: the shell convention for "ended by SIGINT".
    if (deps.signal.aborted) {
      deps.stderr("conclave: interrupted\n");
      return 130;
    }
    deps.stderr(`conclave: ${describe(err)}\n`);
    return 1;
  } finally {
    await client?.close();
  }
}
