import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  ForwardOutcomeUnknownError,
  LeaderClient,
  LeaderNotReachedError,
} from "../../src/server/leader-client.js";
import { freePort } from "../support/free-port.js";

const servers: Server[] = [];
const clients: LeaderClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

async function leader(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handle);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function client(maxAnswerBytes = 1024) {
  const c = new LeaderClient({ tls: {}, maxSockets: 4, maxAnswerBytes });
  clients.push(c);
  return c;
}

const request = (baseUrl: string, timeoutMs = 2000) => ({
  baseUrl,
  method: "POST",
  path: "/v3/kv/put?x=1",
  headers: { "idempotency-key": "k" },
  body: '{"key":"aw=="}',
  timeoutMs,
});

describe("LeaderClient", () => {
  it("sends method, path, headers and body, and returns the answer as it came", async () => {
    const seen: { method?: string; url?: string; key?: unknown; type?: unknown; body?: string } =
      {};
    const url = await leader((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => {
        body += d.toString();
      });
      req.on("end", () => {
        Object.assign(seen, {
          method: req.method,
          url: req.url,
          key: req.headers["idempotency-key"],
          type: req.headers["content-type"],
          body,
        });
        res.writeHead(409, { "content-type": "application/json" }).end('{"code":"X"}');
      });
    });
    const answer = await client().send(request(url));
    expect(seen).toEqual({
      method: "POST",
      url: "/v3/kv/put?x=1",
      key: "k",
      type: "application/json",
      body: '{"key":"aw=="}',
    });
    expect(answer.status).toBe(409);
    expect(answer.contentType).toBe("application/json");
    expect(answer.body.toString()).toBe('{"code":"X"}');
  });

  it("reports a refused connection as not reached: nothing was sent", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    await expect(client().send(request(url))).rejects.toBeInstanceOf(LeaderNotReachedError);
  });

  it("reports a leader that does not answer in time as 504 OUTCOME_UNKNOWN", async () => {
    const url = await leader(() => {
      // Never answers.
    });
    const failure = client()
      .send(request(url, 200))
      .catch((e: unknown) => e);
    const err = await failure;
    expect(err).toBeInstanceOf(ForwardOutcomeUnknownError);
    expect(err).toMatchObject({ statusCode: 504, code: "OUTCOME_UNKNOWN" });
  });

  it("reports a connection cut mid-answer, or an answer over its bound, as OUTCOME_UNKNOWN", async () => {
    const cut = await leader((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      res.write("{");
      setImmediate(() => res.socket?.destroy());
    });
    await expect(client().send(request(cut))).rejects.toMatchObject({
      statusCode: 503,
      code: "OUTCOME_UNKNOWN",
    });
    const big = await leader((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json" }).end("x".repeat(5000));
    });
    await expect(client(1024).send(request(big))).rejects.toMatchObject({
      statusCode: 503,
      code: "OUTCOME_UNKNOWN",
    });
  });
});
