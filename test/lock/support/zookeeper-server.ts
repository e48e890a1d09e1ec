/**
 * The shared ZooKeeper of the test machine (127.0.0.1:2181, started by
 * .ci/services.sh), and dedicated ZooKeeper processes for tests that kill a
 * server: each on a free loopback port with its own temp data dir, killed
 * by PID, never the shared one.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, missingServiceError } from "../../support/free-port.js";

export const SHARED_ZOOKEEPER = "127.0.0.1:2181";

/** Debian's zookeeper package puts the server jar here (its manifest names the dependencies). */
const ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar";

/** ZooKeeper's "ruok" four-letter command: "imok" once the server serves requests. */
async function answersRuok(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.on("error", () => done(false));
    socket.on("connect", () => socket.write("ruok"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
    });
    socket.on("end", () => done(reply === "imok"));
  });
}

/** Fails loudly, saying how to start it, when the shared ZooKeeper is not serving. */
export async function requireSharedZooKeeper(): Promise<void> {
  if (!(await answersRuok(2181))) {
    throw missingServiceError("ZooKeeper", SHARED_ZOOKEEPER, undefined);
  }
}

export class ZooKeeperServerProcess {
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #dir: string;

  private constructor(port: number, child: ChildProcess, dir: string) {
    this.port = port;
    this.#child = child;
    this.#dir = dir;
  }

  static async start(): Promise<ZooKeeperServerProcess> {
    if (!existsSync(ZOOKEEPER_JAR)) {
      throw new Error(
        `${ZOOKEEPER_JAR} is missing; the ZooKeeper lock tests start their own servers (run \`bash .ci/services.sh\` as root, which installs Debian's zookeeper)`,
      );
    }
    const dir = await mkdtemp(join(tmpdir(), "conclave-zookeeper-"));
    const port = await freePort();
    const config = join(dir, "zoo.cfg");
    await writeFile(
      config,
      [
        "tickTime=200",
        `dataDir=${join(dir, "data")}`,
        `clientPort=${port}`,
        "clientPortAddress=127.0.0.1",
        "minSessionTimeout=400",
        "maxSessionTimeout=120000",
        "maxClientCnxns=0",
        "admin.enableServer=false",
        "4lw.commands.whitelist=ruok",
        "",
      ].join("\n"),
    );
    const child = spawn(
      "java",
      [
        "-Xmx128m",
        "-cp",
        `/etc/zookeeper/conf:${ZOOKEEPER_JAR}`,
        "org.apache.zookeeper.server.quorum.QuorumPeerMain",
        config,
      ],
      { stdio: "ignore" },
    );
    const server = new ZooKeeperServerProcess(port, child, dir);
    const deadline = Date.now() + 20_000;
    while (!(await answersRuok(port))) {
      if (Date.now() > deadline || child.exitCode !== null) {
        await server.stop();
        throw new Error(`ZooKeeper on port ${port} did not start within 20 s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return server;
  }

  get connectString(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number {
    if (this.#child.pid === undefined) throw new Error("ZooKeeper has no pid");
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
