import type { FastifyInstance } from "fastify";
import { startCluster, type TestCluster } from "../server/cluster.js";
import { freePort } from "../support/free-port.js";

export interface CliCluster extends TestCluster {
  /** Base URL per member, in member order. */
  readonly urls: string[];
  /** `--endpoints` with every member's URL. */
  readonly endpointsFlag: string[];
}

/** The in-process three-node cluster with each member's API listening on a free 127.0.0.1 port. */
export async function startCliCluster(): Promise<CliCluster> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const cluster = await startCluster({ clientUrls: new Map(urls.map((u, i) => [i + 1, u])) });
  await Promise.all(
    cluster.members.map((m, i) => m.app.listen({ host: "127.0.0.1", port: ports[i]! })),
  );
  await cluster.leader();
  return { ...cluster, urls, endpointsFlag: ["--endpoints", urls.join(",")] };
}

/** Closes a member's API at once, open watch streams included. */
export async function closeNow(app: FastifyInstance): Promise<void> {
  const closing = app.close();
  app.server.closeAllConnections();
  await closing;
}
