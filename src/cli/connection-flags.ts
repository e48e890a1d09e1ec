/**
 * Who the CLI connects as and how: `--user NAME[:PASSWORD]` and the TLS
 * files `--cacert`, `--cert`, `--key`, each with a `$CONCLAVE_*` fallback,
 * shared by the client commands and by `lock` / `elect`. A password is never
 * required on the command line: it comes from `$CONCLAVE_PASSWORD`, or from
 * a prompt when standard input is a terminal.
 */
import { readFileSync } from "node:fs";
import type { ClientOptions } from "../client/index.js";
import type { OptionSpec } from "./args.js";

type Env = Readonly<Record<string, string | undefined>>;

export const CONNECTION_OPTIONS = {
  user: {
    type: "string",
    valueName: "NAME[:PASSWORD]",
    description:
      "authenticate as NAME (default: $CONCLAVE_USER); the password from $CONCLAVE_PASSWORD or a prompt",
  },
  cacert: {
    type: "string",
    valueName: "FILE",
    description: "trust the CA certificates in this PEM file for https (default: $CONCLAVE_CACERT)",
  },
  cert: {
    type: "string",
    valueName: "FILE",
    description: "present this PEM client certificate (default: $CONCLAVE_CERT); needs --key",
  },
  key: {
    type: "string",
    valueName: "FILE",
    description: "the client certificate's PEM private key (default: $CONCLAVE_KEY)",
  },
} as const satisfies Record<string, OptionSpec>;

/** A user to authenticate as; `password` undefined until asked for. */
export interface UserFlag {
  readonly name: string;
  readonly password?: string;
}

/** Paths of the PEM files for https endpoints. */
export interface TlsFiles {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
}

export interface ConnectionFlags {
  readonly user?: UserFlag;
  readonly tls?: TlsFiles;
}

/** The flag's value, else the environment's when set and not blank. */
function fromFlagOrEnv(flag: unknown, env: Env, name: string): string | undefined {
  if (typeof flag === "string") return flag;
  const value = env[name];
  return value !== undefined && value.trim() !== "" ? value : undefined;
}

/** Reads the connection flags (or their environment variables); bad combinations fail. */
export function resolveConnection(
  values: Readonly<Record<string, unknown>>,
  env: Env,
  fail: (message: string) => never,
): ConnectionFlags {
  const userText = fromFlagOrEnv(values["user"], env, "CONCLAVE_USER");
  const source = typeof values["user"] === "string" ? "--user" : "CONCLAVE_USER";
  let user: UserFlag | undefined;
  if (userText !== undefined) {
    const colon = userText.indexOf(":");
    const name = colon < 0 ? userText : userText.slice(0, colon);
    if (name === "") fail(`${source} needs a user name: NAME or NAME:PASSWORD`);
    const password = colon < 0 ? env["CONCLAVE_PASSWORD"] : userText.slice(colon + 1);
    user = password !== undefined && password !== "" ? { name, password } : { name };
  }
  const caFile = fromFlagOrEnv(values["cacert"], env, "CONCLAVE_CACERT");
  const certFile = fromFlagOrEnv(values["cert"], env, "CONCLAVE_CERT");
  const keyFile = fromFlagOrEnv(values["key"], env, "CONCLAVE_KEY");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    fail("--cert and --key go together (or $CONCLAVE_CERT and $CONCLAVE_KEY)");
  }
  const tls =
    caFile === undefined && certFile === undefined
      ? undefined
      : {
          ...(caFile !== undefined && { caFile }),
          ...(certFile !== undefined && { certFile }),
          ...(keyFile !== undefined && { keyFile }),
        };
  return { ...(user !== undefined && { user }), ...(tls !== undefined && { tls }) };
}

/** Asks for a password on the terminal; undefined when standard input is not one. */
export type PasswordPrompt = ((question: string) => Promise<string>) | undefined;

/** A user whose password was not given: asked for at the terminal, else a clear failure. */
export async function withPassword(
  user: UserFlag | undefined,
  prompt: PasswordPrompt,
  fail: (message: string) => never,
): Promise<UserFlag | undefined> {
  if (user === undefined || user.password !== undefined) return user;
  if (prompt === undefined) {
    fail(
      `no password for user ${user.name}: set $CONCLAVE_PASSWORD or use --user ${user.name}:PASSWORD`,
    );
  }
  const password = await prompt(`Password for ${user.name}: `);
  if (password === "") fail(`no password for user ${user.name}`);
  return { name: user.name, password };
}

/**
 * The SDK options for these flags: the TLS files read (a few small files, at
 * connection time, so a command that never connects never needs them) and
 * the user with its password.
 */
export function clientConnectionOptions(
  flags: ConnectionFlags,
): Pick<ClientOptions, "tls" | "username" | "password"> {
  const read = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path));
  const ca = read(flags.tls?.caFile);
  const cert = read(flags.tls?.certFile);
  const key = read(flags.tls?.keyFile);
  const tls =
    flags.tls === undefined
      ? undefined
      : {
          ...(ca !== undefined && { ca }),
          ...(cert !== undefined && { cert }),
          ...(key !== undefined && { key }),
        };
  const { user } = flags;
  return {
    ...(tls !== undefined && { tls }),
    ...(user?.password !== undefined && { username: user.name, password: user.password }),
  };
}
