import http from "node:http";

export interface SeenRequest {
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: unknown;
}

export type Responder = (res: http.ServerResponse, req: http.IncomingMessage) => void;

/** A scripted HTTP server on 127.0.0.1: each request takes the next responder (the last repeats). */
export interface FakeServer {
  readonly url: string;
  readonly seen: SeenRequest[];
  close(): Promise<void>;
}

export async function fakeServer(script: Responder[]): Promise<FakeServer> {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => {
      raw += c.toString();
    });
    req.on("end", () => {
      seen.push({
        url: req.url ?? "",
        headers: req.headers,
        body: raw === "" ? undefined : JSON.parse(raw),
      });
      const respond = script[Math.min(seen.length - 1, script.length - 1)];
      respond?.(res, req);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
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
