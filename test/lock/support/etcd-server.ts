/**
 * The shared etcd of the test machine (127.0.0.1:2379, started by
 * .ci/services.sh), and dedicated etcd processes for tests that kill a
 * server: each on free loopback ports with its own temp data dir, killed by
 * PID, never the shared one.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, missingServiceError } from "../../support/free-port.js";

export const SHARED_ETCD = "127.0.0.1:2379";

async function healthy(endpoint: string): Promise<boolean> {
  try {
    const reply = await fetch(`http://${endpoint}/health`, { signal: AbortSignal.timeout(2000) });
    return reply.ok && ((await reply.json()) as { health?: string }).health === "true";
  } catch {
    return false;
  }
}

/** Fails loudly, saying how to start it, when the shared etcd is not serving. */
export async function requireSharedEtcd(): Promise<void> {
  if (!(await healthy(SHARED_ETCD))) {
    throw missingServiceError("etcd", SHARED_ETCD, undefined);
  }
}

export class EtcdServerProcess {
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #dir: string;

  private constructor(port: number, child: ChildProcess, dir: string) {
    this.port = port;
    this.#child = child;
    this.#dir = dir;
  }

  static async start(): Promise<EtcdServerProcess> {
    const which = spawnSync("etcd", ["--version"], { encoding: "utf8" });
    if (which.error !== undefined || which.status !== 0) {
      throw new Error(
        "etcd is not installed or not on PATH; the etcd lock tests start their own instances (run `bash .ci/services.sh` as root, which installs Debian's etcd-server)",
      );
    }
    const dir = await mkdtemp(join(tmpdir(), "conclave-etcd-"));
    const [port, peerPort] = [await freePort(), await freePort()];
    const client = `http://127.0.0.1:${port}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const child = spawn(
      "etcd",
      [
        "--name",
        "test",
        "--data-dir",
        join(dir, "data"),
        "--listen-client-urls",
        client,
        "--advertise-client-urls",
        client,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
        "--initial-cluster",
        `test=${peer}`,
        "--heartbeat-interval",
        "50",
        "--election-timeout",
        "500",
      ],
      { stdio: "ignore" },
    );
    const server = new EtcdServerProcess(port, child, dir);
    const deadline = Date.now() + 15_000;
    while (!(await healthy(server.endpoint))) {
      if (Date.now() > deadline || child.exitCode !== null) {
        await server.stop();
        throw new Error(`etcd on port ${port} did not become healthy within 15 s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return server;
  }

  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number {
    if (this.#child.pid === undefined) throw new Error("etcd has no pid");
    return this.#child.pid;
  }

  /** SIGKILL: the server is gone at once, as in a crash. */
  async kill(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    process.kill(this.pid, "SIGKILL");
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    await rm(this.#dir, { recursive: true, force: true });
  }
}
