/**
 * The shared ZooKeeper of the test machine (127.0.0.1:2181, started by
 * .ci/services.sh), and dedicated ZooKeeper processes for tests that kill a
 * server: each on a free loopback port with its own temp data dir, killed
 * by PID, never the shared one.
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import { missingServiceError } from "../../support/free-port.js";
import { PrivateServerProcess } from "../../support/server-process.js";

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

export class ZooKeeperServerProcess extends PrivateServerProcess {
  static async start(): Promise<ZooKeeperServerProcess> {
    if (!existsSync(ZOOKEEPER_JAR)) {
      throw new Error(
        `${ZOOKEEPER_JAR} is missing; the ZooKeeper lock tests start their own servers (run \`bash .ci/services.sh\` as root, which installs Debian's zookeeper)`,
      );
    }
    const launched = await PrivateServerProcess.launch({
      what: "ZooKeeper",
      dirPrefix: "conclave-zookeeper-",
      command: "java",
      async args(dir, port) {
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
        return [
          "-Xmx128m",
          "-cp",
          `/etc/zookeeper/conf:${ZOOKEEPER_JAR}`,
          "org.apache.zookeeper.server.quorum.QuorumPeerMain",
          config,
        ];
      },
      startWithinMs: 20_000,
      isReady: answersRuok,
    });
    return new ZooKeeperServerProcess(launched);
  }

  get connectString(): string {
    return `127.0.0.1:${this.port}`;
  }
}
