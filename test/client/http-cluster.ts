import { type ClientOptions, ConclaveClient, seededRandom } from "../../src/client/index.js";
import type { ServerOptions } from "../../src/server/index.js";
import { startCluster, type TestCluster } from "../server/cluster.js";
import { freePort } from "../support/free-port.js";

export interface HttpCluster extends TestCluster {
  /** Base URL per member, in member order. */
  readonly urls: string[];
  urlOf(id: number): string;
  client(options?: Partial<ClientOptions>): ConclaveClient;
}

/** The in-memory three-node cluster, each API listening on a free 127.0.0.1 port. */
export async function startHttpCluster(
  serverOptions: Omit<ServerOptions, "node" | "store" | "clientUrls"> = {},
): Promise<HttpCluster> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const cluster = await startCluster({
    ...serverOptions,
    clientUrls: new Map(urls.map((u, i) => [i + 1, u])),
  });
  await Promise.all(
    cluster.members.map((m, i) => m.app.listen({ host: "127.0.0.1", port: ports[i]! })),
  );
  const clients: ConclaveClient[] = [];
  return {
    ...cluster,
    urls,
    urlOf: (id) => urls[id - 1]!,
    client(options = {}) {
      const c = new ConclaveClient({ endpoints: urls, random: seededRandom(7), ...options });
      clients.push(c);
      return c;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.close()));
      await cluster.stop();
    },
  };
}
