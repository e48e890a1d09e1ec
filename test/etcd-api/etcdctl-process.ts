/**
 * A long-running etcdctl (lock, elect) as a child process of the test: its
 * output as it comes, and an interrupt that ends it as Ctrl-C would. Every
 * process started is killed by stopAll() if it is still running.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { ETCDCTL } from "./grpc-cluster.js";

export interface EtcdctlProcess {
  /** What it printed on stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with its exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** SIGINT: etcdctl unlocks or resigns, then exits. */
  interrupt(): void;
}

export class EtcdctlProcesses {
  readonly #children: ChildProcess[] = [];

  start(endpoints: readonly string[], args: readonly string[]): EtcdctlProcess {
    const child = spawn(
      ETCDCTL,
      [`--endpoints=${endpoints.join(",")}`, "--dial-timeout=5s", ...args],
      { env: { ...process.env, ETCDCTL_API: "3" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    this.#children.push(child);
    let out = "";
    let err = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.once("exit", (code) => resolve(code));
    });
    return {
      stdout: () => out,
      stderr: () => err,
      exited,
      interrupt: () => {
        child.kill("SIGINT");
      },
    };
  }

  /** Kills what is still running (a failed test's leftovers) and waits for them to exit. */
  async stopAll(): Promise<void> {
    const running = this.#children.filter((c) => c.exitCode === null && c.signalCode === null);
    await Promise.all(
      running.map(
        (c) =>
          new Promise<void>((resolve) => {
            c.once("exit", () => resolve());
            c.kill("SIGKILL");
          }),
      ),
    );
    this.#children.length = 0;
  }
}
