/** The shape of one client command and what it gets to run with. */
import type { CommandSpec, Flags, GlobalOptions } from "./args.js";
import type { CallOptions, CliClient } from "./client-port.js";
import type { PasswordPrompt } from "./connection-flags.js";
import type { Output } from "./output.js";

export interface CommandContext {
  readonly out: Output;
  readonly globals: GlobalOptions;
  /** Aborted on SIGINT/SIGTERM: long-running commands (watch, keepalive) end cleanly. */
  readonly signal: AbortSignal;
  /** Connects on first use, so a usage error never needs a cluster. */
  client(): CliClient;
  /** The whole of standard input as UTF-8 text. */
  readStdin(): Promise<string>;
  /** Options every single call gets: the cancel signal. */
  readonly call: CallOptions;
  /** Asks for a password at the terminal; absent when standard input is not a terminal. */
  readonly promptPassword?: PasswordPrompt;
}

export interface CommandDef {
  readonly spec: CommandSpec;
  /** Works without a cluster (snapshot restore): no password is asked for. */
  readonly offline?: boolean;
  run(ctx: CommandContext, args: readonly string[], flags: Flags): Promise<number>;
}

/** A command with subcommands (`lease grant`, `member list`, ...). */
export interface CommandGroup {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly CommandDef[];
}
