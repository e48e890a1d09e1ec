/**
 * The shared etcd of the test machine (127.0.0.1:2379, started by
 * .ci/services.sh), and dedicated etcd processes for tests that kill a
 * server: each on free loopback ports with its own temp data dir, killed by
 * PID, never the shared one.
 */
import { join } from "node:path";
import { freePort, missingServiceError } from "../../support/free-port.js";
import { PrivateServerProcess, requireOnPath } from "../../support/server-process.js";

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

export class EtcdServerProcess extends PrivateServerProcess {
  static async start(): Promise<EtcdServerProcess> {
    requireOnPath(
      "etcd",
      "etcd is not installed or not on PATH; the etcd lock tests start their own instances (run `bash .ci/services.sh` as root, which installs Debian's etcd-server)",
    );
    const peerPort = await freePort();
    const launched = await PrivateServerProcess.launch({
      what: "etcd",
      dirPrefix: "conclave-etcd-",
      command: "etcd",
      async args(dir, port) {
        const client = `http://127.0.0.1:${port}`;
        const peer = `http://127.0.0.1:${peerPort}`;
        return [
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
        ];
      },
      startWithinMs: 15_000,
      isReady: (port) => healthy(`127.0.0.1:${port}`),
    });
    return new EtcdServerProcess(launched);
  }

  get endpoint(): string {
    return `127.0.0.1:${this.port}`;
  }
}
