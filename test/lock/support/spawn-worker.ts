/** Starts conformance workers as child processes and reads their JSON-line reports. */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { WorkerSpec } from "../conformance.js";
import type { WorkerTask } from "./tasks.js";

const workerEntry = fileURLToPath(new URL("./worker.ts", import.meta.url));

export interface RunningWorker {
  readonly child: ChildProcess;
  /** Resolves with the first report whose `event` matches; rejects if the worker exits first. */
  next(event: string): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string>;
}

export function spawnWorker(spec: WorkerSpec, task: WorkerTask): RunningWorker {
  const child = spawn(process.execPath, ["--import", "tsx", workerEntry], {
    env: { ...process.env, LOCK_WORKER_JOB: JSON.stringify({ ...spec, task }) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const reports: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let stderr = "";
  let buffered = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf("\n");
    while (newline >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line !== "") reports.push(JSON.parse(line) as Record<string, unknown>);
      newline = buffered.indexOf("\n");
    }
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => {
      resolve(code ?? signal ?? "unknown");
      for (const wake of waiters.splice(0)) wake();
    });
  });
  let exitCode: number | string | undefined;
  void exited.then((code) => {
    exitCode = code;
  });

  return {
    child,
    exited,
    next(event) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = reports.find((r) => r["event"] === event);
          if (found !== undefined) return resolve(found);
          if (exitCode !== undefined || child.exitCode !== null) {
            return reject(
              new Error(
                `worker exited (${exitCode ?? child.exitCode}) before "${event}":\n${stderr}`,
              ),
            );
          }
          waiters.push(check);
        };
        check();
      });
    },
  };
}
