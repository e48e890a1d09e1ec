/**
 * A real in-process cluster with auth enabled, set up through the CLI as an
 * operator would: root with its role, `auth enable`, then the test's users
 * and roles.
 */
import { expect } from "vitest";
import { runClientCommand } from "../../src/cli/client-commands.js";
import { connect } from "../../src/cli/connect.js";
import type { ServerOptions } from "../../src/server/index.js";
import { type HttpCluster, startHttpCluster } from "../server/http-cluster.js";

export const ROOT_PASSWORD = "root-password-for-the-test";
/** Environment that makes a CLI call as root. */
export const AS_ROOT = { CONCLAVE_USER: "root", CONCLAVE_PASSWORD: ROOT_PASSWORD };

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface AuthCluster {
  readonly cluster: HttpCluster;
  /** `conclave ...args` in this process against the cluster's endpoints. */
  cli(args: string[], env?: Record<string, string>, stdin?: string): Promise<CliRun>;
}

/** One setup step: CLI words, and the password it reads on stdin if any; run as root. */
export type SetupStep = readonly [args: string[], stdin?: string];

export async function startAuthCluster(
  serverOptions: Omit<ServerOptions, "node" | "store" | "clientUrls">,
  steps: readonly SetupStep[],
): Promise<AuthCluster> {
  const cluster = await startHttpCluster(serverOptions);
  const cli = async (args: string[], env: Record<string, string> = {}, stdin = "") => {
    let stdout = "";
    let stderr = "";
    const code = await runClientCommand([...args, "--endpoints", cluster.urls.join(",")], {
      stdout: (t) => {
        stdout += t;
      },
      stderr: (t) => {
        stderr += t;
      },
      env,
      readStdin: async () => stdin,
      connect,
      signal: new AbortController().signal,
    });
    return { code, stdout, stderr };
  };
  const run = async (args: string[], env: Record<string, string>, stdin = "") => {
    const r = await cli(args, env, stdin);
    expect(r.stderr, args.join(" ")).toBe("");
    expect(r.code, args.join(" ")).toBe(0);
  };
  await run(["user", "add", "root", "--new-password-stdin"], {}, `${ROOT_PASSWORD}\n`);
  await run(["user", "grant-role", "root", "root"], {});
  await run(["auth", "enable"], {});
  for (const [args, stdin] of steps) await run(args, AS_ROOT, stdin);
  return { cluster, cli };
}
