/**
 * The bench's client processes (registrants and watchers): started with
 * tsx, tracked by PID so exactly those are stopped, also when the bench
 * exits early. Each child's stdout is a stream of JSON messages handed to
 * one handler; its stderr goes to a log file.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { openSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ChildMessage } from "./plan.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const STOP_GRACE_MS = 5_000;

export class BenchChild {
  readonly #child: ChildProcess;
  readonly exited: Promise<void>;
  #done = false;

  constructor(
    readonly name: string,
    script: "registrant" | "watcher",
    args: unknown,
    logPath: string,
    onMessage: (message: ChildMessage, from: BenchChild) => void,
  ) {
    const log = openSync(logPath, "a");
    this.#child = spawn(
      process.execPath,
      ["--import", "tsx", `${HERE}${script}.ts`, JSON.stringify(args)],
      { stdio: ["pipe", "pipe", log] },
    );
    if (this.#child.pid === undefined) throw new Error(`could not start ${name}`);
    live.add(this);
    this.exited = new Promise((resolve) => {
      this.#child.once("exit", () => {
        this.#done = true;
        live.delete(this);
        resolve();
      });
    });
    // A child that dies before reading its stdin must not end the bench.
    this.#child.stdin!.on("error", () => undefined);
    createInterface({ input: this.#child.stdout! }).on("line", (line) => {
      let message: ChildMessage;
      try {
        message = JSON.parse(line) as ChildMessage;
      } catch {
        return;
      }
      onMessage(message, this);
    });
  }

  get pid(): number {
    return this.#child.pid!;
  }

  get hasExited(): boolean {
    return this.#done;
  }

  command(line: string): void {
    if (!this.#done) this.#child.stdin!.write(`${line}\n`);
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.#done) this.#child.kill(signal);
  }

  /** SIGTERM, then SIGKILL after a grace period. */
  async stop(): Promise<void> {
    if (this.#done) return;
    this.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, STOP_GRACE_MS);
    });
    await Promise.race([this.exited, graceOver]);
    clearTimeout(timer);
    if (!this.#done) {
      this.kill("SIGKILL");
      await this.exited;
    }
  }
}

const live = new Set<BenchChild>();
// Last resort: whatever client process still runs when the bench exits.
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});
