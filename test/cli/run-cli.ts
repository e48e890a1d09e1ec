import { type ChildProcess, spawn } from "node:child_process";
import { runClientCommand } from "../../src/cli/client-commands.js";
import { connect } from "../../src/cli/connect.js";

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const CLI = ["--import", "tsx", "src/cli/main.ts"];

/** Starts `conclave ...args` as a child process (never blocking this process's event loop). */
export function startCli(
  args: readonly string[],
  options: { env?: Record<string, string | undefined> } = {},
): ChildProcess {
  return spawn(process.execPath, [...CLI, ...args], {
    env: { ...process.env, CONCLAVE_ENDPOINTS: "", ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/**
 * Runs `conclave ...args` to completion, feeding `input` on stdin; kills the
 * child (by its PID) if it is still running after `timeoutMs`.
 */
export function runCli(
  args: readonly string[],
  options: { input?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const child = startCli(args, options);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (b: Buffer) => {
    stdout += b.toString("utf8");
  });
  child.stderr?.on("data", (b: Buffer) => {
    stderr += b.toString("utf8");
  });
  child.stdin?.end(options.input ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Collects a running child's stdout lines; `waitForLines` resolves once `n` have arrived. */
export function lineReader(child: ChildProcess) {
  const lines: string[] = [];
  let partial = "";
  child.stdout?.on("data", (b: Buffer) => {
    partial += b.toString("utf8");
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
  });
  return {
    lines,
    async waitForLines(n: number, timeoutMs = 30_000): Promise<string[]> {
      const deadline = Date.now() + timeoutMs;
      while (lines.length < n) {
        if (Date.now() > deadline) {
          throw new Error(
            `expected ${n} lines within ${timeoutMs} ms, got: ${JSON.stringify(lines)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      return lines.slice(0, n);
    },
  };
}

/**
 * Runs a client command inside this process with the real SDK: the same code
 * path as the binary minus process start-up, for checks that need many runs.
 */
export async function runInProcess(args: readonly string[], input = ""): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await runClientCommand(args, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env: {},
    readStdin: async () => input,
    connect,
    signal: new AbortController().signal,
  });
  return { code, stdout, stderr };
}
