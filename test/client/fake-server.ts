import http from "node:http";
import { afterEach } from "vitest";
import { type ClientOptions, ConclaveClient, seededRandom } from "../../src/client/index.js";

export interface SeenRequest {
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: unknown;
  /** Which connection carried it: 1 for the server's first, and so on. */
  readonly connection: number;
}

export type Responder = (res: http.ServerResponse, req: http.IncomingMessage) => void;

/** A scripted HTTP server on 127.0.0.1: each request takes the next responder (the last repeats). */
export interface FakeServer {
  readonly url: string;
  readonly seen: SeenRequest[];
  /** Connections accepted so far. */
  connections(): number;
  /** Connections closed so far, by either side. */
  closedConnections(): number;
  /** Connections the client ended (its FIN arrived); a server-side timeout does not count. */
  clientEndedConnections(): number;
  close(): Promise<void>;
}

export async function fakeServer(
  script: Responder[],
  options: { keepAliveTimeoutMs?: number } = {},
): Promise<FakeServer> {
  const seen: SeenRequest[] = [];
  const connectionOf = new WeakMap<object, number>();
  let connections = 0;
  let closedConnections = 0;
  let clientEndedConnections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      chunks.push(c);
    });
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      seen.push({
        url: req.url ?? "",
        headers: req.headers,
        // A raw value's bytes as they came; anything else is JSON.
        body:
          raw.byteLength === 0
            ? undefined
            : req.headers["content-type"] === "application/octet-stream"
              ? raw
              : JSON.parse(raw.toString()),
        connection: connectionOf.get(req.socket) ?? 0,
      });
      const respond = script[Math.min(seen.length - 1, script.length - 1)];
      respond?.(res, req);
    });
  });
  if (options.keepAliveTimeoutMs !== undefined)
    server.keepAliveTimeout = options.keepAliveTimeoutMs;
  server.on("connection", (socket) => {
    connectionOf.set(socket, ++connections);
    socket.once("close", () => closedConnections++);
    socket.once("end", () => clientEndedConnections++);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    connections: () => connections,
    closedConnections: () => closedConnections,
    clientEndedConnections: () => clientEndedConnections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const json =
  (status: number, body: unknown): Responder =>
  (res) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };

export const ok = json(200, { header: { revision: "5" } });

/** Drops the connection without answering: the request arrived, the answer is lost. */
export const drop: Responder = (_res, req) => {
  req.socket.destroy();
};

/** Never answers. */
export const hang: Responder = () => {};

/**
 * Fake servers and clients for one test file, all closed after each test.
 * Clients jitter their backoff from a fixed seed.
 */
export function fakeCluster(seed: number) {
  const servers: FakeServer[] = [];
  const clients: ConclaveClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  const serveWith = async (
    options: { keepAliveTimeoutMs?: number },
    ...script: Responder[]
  ): Promise<FakeServer> => {
    const s = await fakeServer(script, options);
    servers.push(s);
    return s;
  };
  return {
    serveWith,
    serve: (...script: Responder[]) => serveWith({}, ...script),
    clientOf(endpoints: string[], options: Partial<ClientOptions> = {}): ConclaveClient {
      const c = new ConclaveClient({ endpoints, random: seededRandom(seed), ...options });
      clients.push(c);
      return c;
    },
  };
}
