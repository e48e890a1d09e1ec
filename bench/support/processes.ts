/**
 * Server processes a benchmark starts, tracked by PID so that exactly those
 * are stopped: on normal completion, on an error and on SIGINT/SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { openSync } from "node:fs";

export interface StartedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves with the exit code (or signal) when the process ends. */
  readonly exited: Promise<string>;
  hasExited(): boolean;
}

interface Tracked extends StartedProcess {
  readonly child: ChildProcess;
}

const STOP_GRACE_MS = 5_000;

export class ProcessGroup {
  readonly #tracked = new Map<number, Tracked>();
  #signalHandler: ((signal: NodeJS.Signals) => void) | undefined;
  readonly #exitHandler = () => this.killAllNow();

  constructor() {
    // A signal stops what we started, then ends the run with the usual code.
    this.#signalHandler = (signal) => {
      process.stderr.write(`\n${signal}: stopping ${this.#tracked.size} server process(es)\n`);
      void this.stopAll().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    };
    process.on("SIGINT", this.#signalHandler);
    process.on("SIGTERM", this.#signalHandler);
    process.on("exit", this.#exitHandler);
  }

  start(name: string, command: string, args: readonly string[], logPath: string): StartedProcess {
    const log = openSync(logPath, "a");
    const child = spawn(command, args, { stdio: ["ignore", log, log] });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    let done = false;
    const exited = new Promise<string>((resolve) => {
      child.once("exit", (code, signal) => {
        done = true;
        resolve(signal ?? String(code));
      });
      child.once("error", (err) => {
        done = true;
        resolve(`error: ${err.message}`);
      });
    });
    const tracked: Tracked = {
      name,
      pid: child.pid,
      logPath,
      exited,
      child,
      hasExited: () => done,
    };
    this.#tracked.set(child.pid, tracked);
    void exited.then(() => this.#tracked.delete(tracked.pid));
    return tracked;
  }

  /** SIGTERM, then SIGKILL after a grace period, for each given process (default: all). */
  async stop(pids: readonly number[] = [...this.#tracked.keys()]): Promise<void> {
    await Promise.all(
      pids.map(async (pid) => {
        const tracked = this.#tracked.get(pid);
        if (tracked === undefined || tracked.hasExited()) return;
        tracked.child.kill("SIGTERM");
        let timer: NodeJS.Timeout | undefined;
        const graceOver = new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), STOP_GRACE_MS);
        });
        const outcome = await Promise.race([tracked.exited, graceOver]);
        clearTimeout(timer);
        if (outcome === "timeout" && !tracked.hasExited()) {
          tracked.child.kill("SIGKILL");
          await tracked.exited;
        }
      }),
    );
  }

  async stopAll(): Promise<void> {
    await this.stop();
  }

  /** Last resort at process exit: synchronous SIGKILL of whatever still runs. */
  killAllNow(): void {
    for (const tracked of this.#tracked.values()) {
      if (!tracked.hasExited()) tracked.child.kill("SIGKILL");
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stopAll();
    if (this.#signalHandler !== undefined) {
      process.off("SIGINT", this.#signalHandler);
      process.off("SIGTERM", this.#signalHandler);
      this.#signalHandler = undefined;
    }
    process.off("exit", this.#exitHandler);
  }
}
