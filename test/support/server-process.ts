/**
 * A private server process for tests that kill, pause or partition a server
 * (never a shared one): started on a free loopback port with its own temp
 * dir, polled until it serves, and signalled by PID only.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.js";

/** How to start one kind of server. */
export interface ServerLaunch {
  /** Names the server in errors: "etcd", "redis-server". */
  readonly what: string;
  /** Prefix of the server's temp dir under the OS temp dir. */
  readonly dirPrefix: string;
  readonly command: string;
  /** Prepares `dir` if the server needs files there, and returns its arguments. */
  args(dir: string, port: number): Promise<readonly string[]>;
  /** Gives up (and kills the process) when it does not serve within this long. */
  readonly startWithinMs: number;
  /** True once the server listening on `port` serves requests. */
  isReady(port: number): Promise<boolean>;
}

/** What {@link PrivateServerProcess.launch} started: hand it to the constructor. */
export interface LaunchedServer {
  readonly what: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly dir: string;
}

/** Throws `message` (how to install it) when `command --version` does not run. */
export function requireOnPath(command: string, message: string): void {
  const which = spawnSync(command, ["--version"], { encoding: "utf8" });
  if (which.error !== undefined || which.status !== 0) throw new Error(message);
}

export class PrivateServerProcess {
  readonly port: number;
  readonly #what: string;
  readonly #child: ChildProcess;
  readonly #dir: string;

  protected constructor(launched: LaunchedServer) {
    this.#what = launched.what;
    this.port = launched.port;
    this.#child = launched.child;
    this.#dir = launched.dir;
  }

  /** Starts the server and waits until it serves; on failure nothing is left running or on disk. */
  protected static async launch(spec: ServerLaunch): Promise<LaunchedServer> {
    const dir = await mkdtemp(join(tmpdir(), spec.dirPrefix));
    const port = await freePort();
    const child = spawn(spec.command, await spec.args(dir, port), { stdio: "ignore" });
    const deadline = Date.now() + spec.startWithinMs;
    while (!(await spec.isReady(port))) {
      if (Date.now() > deadline || child.exitCode !== null) {
        await new PrivateServerProcess({ what: spec.what, port, child, dir }).stop();
        throw new Error(
          `${spec.what} on port ${port} did not start within ${spec.startWithinMs / 1000} s`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { what: spec.what, port, child, dir };
  }

  get pid(): number {
    if (this.#child.pid === undefined) throw new Error(`${this.#what} has no pid`);
    return this.#child.pid;
  }

  /** SIGSTOP: the server stops answering but keeps its state. */
  pause(): void {
    process.kill(this.pid, "SIGSTOP");
  }

  resume(): void {
    process.kill(this.pid, "SIGCONT");
  }

  /** SIGKILL: the server is gone at once, as in a crash (a paused one too). */
  async kill(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    process.kill(this.pid, "SIGCONT");
    process.kill(this.pid, "SIGKILL");
    await exited;
  }

  /** Kills the server and removes its temp dir. */
  async stop(): Promise<void> {
    await this.kill();
    await rm(this.#dir, { recursive: true, force: true });
  }
}
