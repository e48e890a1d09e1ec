/**
 * Dedicated redis-server processes for tests that stop or partition a server
 * (never the shared one on :6379). Each runs on a free loopback port in its
 * own temp dir and is killed by PID.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";

export class RedisServerProcess {
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #dir: string;

  private constructor(port: number, child: ChildProcess, dir: string) {
    this.port = port;
    this.#child = child;
    this.#dir = dir;
  }

  static async start(): Promise<RedisServerProcess> {
    const which = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
    if (which.error !== undefined || which.status !== 0) {
      throw new Error(
        "redis-server is not installed or not on PATH; the Redis and Redlock lock tests start their own instances (install the redis-server package, e.g. apt-get install redis-server)",
      );
    }
    const dir = await mkdtemp(join(tmpdir(), "conclave-redis-"));
    const port = await freePort();
    const child = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
      ],
      { stdio: "ignore" },
    );
    const server = new RedisServerProcess(port, child, dir);
    await server.#waitUntilReady();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    if (this.#child.pid === undefined) throw new Error("redis-server has no pid");
    return this.#child.pid;
  }

  /** SIGSTOP: the server stops answering but keeps its state. */
  pause(): void {
    process.kill(this.pid, "SIGSTOP");
  }

  resume(): void {
    process.kill(this.pid, "SIGCONT");
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
      process.kill(this.pid, "SIGCONT");
      process.kill(this.pid, "SIGKILL");
      await exited;
    }
    await rm(this.#dir, { recursive: true, force: true });
  }

  async #waitUntilReady(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(this.port, "127.0.0.1", {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      probe.on("error", () => {});
      try {
        await probe.connect();
        if ((await probe.ping()) === "PONG") return;
      } catch {
        // not up yet
      } finally {
        probe.disconnect();
      }
      if (Date.now() > deadline || this.#child.exitCode !== null) {
        throw new Error(`redis-server on port ${this.port} did not start within 10 s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Fails loudly, saying how to start it, when the shared Redis is not reachable. */
export async function requireSharedRedis(port = 6379): Promise<void> {
  const probe = new Redis(port, "127.0.0.1", {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2000,
  });
  probe.on("error", () => {});
  try {
    await probe.connect();
    await probe.ping();
  } catch (error) {
    throw new Error(
      `Redis is not reachable at 127.0.0.1:${port}; start it with \`bash .ci/services.sh\` (or \`redis-server --port ${port} --daemonize yes\`)`,
      { cause: error },
    );
  } finally {
    probe.disconnect();
  }
}
