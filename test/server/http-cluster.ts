import type { FastifyInstance } from "fastify";
import { type ClientOptions, ConclaveClient, seededRandom } from "../../src/client/index.js";
import type { ServerOptions } from "../../src/server/index.js";
import { freePort } from "../support/free-port.js";
import { startCluster, type TestCluster } from "./cluster.js";

export interface HttpCluster extends TestCluster {
  /** Base URL per member, in member order. */
  readonly urls: string[];
  urlOf(id: number): string;
  client(options?: Partial<ClientOptions>): ConclaveClient;
}

/**
 * Closes a listening app without waiting for its clients: a client may hold
 * kept-alive connections (or, with fetch, a socket that never carried a
 * request, which the HTTP server does not count as idle) until it closes.
 */
export async function closeNow(app: FastifyInstance): Promise<void> {
  const closing = app.close();
  app.server.closeAllConnections();
  await closing;
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
      await Promise.all(cluster.members.map((m) => closeNow(m.app)));
      await cluster.stop();
    },
  };
}

/** An answer of the HTTP API, read field by field in tests. */
export interface JsonReply {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field in tests.
  readonly body: any;
}

/** One POST over real HTTP to a member's listening API. */
export async function postJson(
  baseUrl: string,
  path: string,
  payload: unknown,
  headers: Record<string, string> = {},
): Promise<JsonReply> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(payload),
  });
  return { status: res.status, body: await res.json() };
}

/** postJson that must answer 200; resolves with the body. */
export async function okJson(
  baseUrl: string,
  path: string,
  payload: unknown,
  headers?: Record<string, string>,
) {
  const r = await postJson(baseUrl, path, payload, headers);
  if (r.status !== 200) throw new Error(`${path} answered ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}
