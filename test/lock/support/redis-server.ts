/**
 * Dedicated redis-server processes for tests that stop or partition a server
 * (never the shared one on :6379). Each runs on a free loopback port in its
 * own temp dir and is killed by PID.
 */
import { Redis } from "ioredis";
import { PrivateServerProcess, requireOnPath } from "../../support/server-process.js";

export class RedisServerProcess extends PrivateServerProcess {
  static async start(): Promise<RedisServerProcess> {
    requireOnPath(
      "redis-server",
      "redis-server is not installed or not on PATH; the Redis and Redlock lock tests start their own instances (install the redis-server package, e.g. apt-get install redis-server)",
    );
    const launched = await PrivateServerProcess.launch({
      what: "redis-server",
      dirPrefix: "conclave-redis-",
      command: "redis-server",
      async args(dir, port) {
        return [
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
        ];
      },
      startWithinMs: 10_000,
      isReady: answersPing,
    });
    return new RedisServerProcess(launched);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
}

async function answersPing(port: number): Promise<boolean> {
  const probe = new Redis(port, "127.0.0.1", {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on("error", () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
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
