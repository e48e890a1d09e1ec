import type http from "node:http";
import { SignJWT } from "jose";
import { afterEach } from "vitest";
import { type FakeServer, fakeServer, type SeenRequest } from "./fake-server.js";

/**
 * Just enough of the auth contract (docs/security.md) to test a client
 * against: users with passwords, HS256 JWT tokens with `sub`, `iat` and
 * `exp`, `authorization: <token>` checked on every other route, and canned
 * answers for the routes a test names. A route not named answers
 * `{ header }`; a watch answers an open SSE stream with its `created` event.
 */
export interface FakeAuthServer extends FakeServer {
  /** Tokens issued so far, oldest first. */
  readonly issued: string[];
  /** Requests to /v3/auth/authenticate so far. */
  authentications(): SeenRequest[];
  /** Requests to every other route, in order. */
  calls(): SeenRequest[];
  /** Refuses every token issued so far, as a change to their user does. */
  revokeTokens(): void;
}

export interface FakeAuthOptions {
  /** name -> password. Default { alice: "wonderland" }. */
  readonly users?: Readonly<Record<string, string>>;
  /** Life of each token. Default 300. */
  readonly ttlSeconds?: number;
  /** path -> [status, body] for routes with a particular answer. */
  readonly routes?: Readonly<Record<string, readonly [number, unknown]>>;
  /** Calls without a token are refused with AUTH_REQUIRED. Default true. */
  readonly required?: boolean;
  /** Refuses every token, fresh ones included (a server whose signing key changes). */
  readonly refuseAllTokens?: boolean;
}

const SECRET = new TextEncoder().encode("a fake server's signing key, 32+ bytes long");
const HEADER = { revision: "7" };

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

export async function fakeAuthServer(options: FakeAuthOptions = {}): Promise<FakeAuthServer> {
  const users = options.users ?? { alice: "wonderland" };
  const ttlSeconds = options.ttlSeconds ?? 300;
  const issued: string[] = [];
  const valid = new Set<string>();
  let server: FakeServer | undefined;
  const respond = async (res: http.ServerResponse, req: http.IncomingMessage) => {
    const seen = server?.seen.at(-1);
    const path = req.url ?? "";
    const body = (seen?.body ?? {}) as Record<string, unknown>;
    if (path === "/v3/auth/authenticate") {
      const name = String(body["name"]);
      if (!Object.hasOwn(users, name) || users[name] !== body["password"]) {
        send(res, 401, { code: "AUTH_FAILED", message: "authentication failed" });
        return;
      }
      const nowSeconds = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ rev: 1 })
        .setProtectedHeader({ alg: "HS256" })
        .setSubject(name)
        .setIssuedAt(nowSeconds)
        .setExpirationTime(nowSeconds + ttlSeconds)
        .setJti(String(issued.length + 1))
        .sign(SECRET);
      issued.push(token);
      valid.add(token);
      send(res, 200, { header: HEADER, token });
      return;
    }
    const token = req.headers.authorization?.replace(/^Bearer /, "");
    if (token === undefined) {
      if (options.required ?? true) {
        send(res, 401, { code: "AUTH_REQUIRED", message: "authentication is required" });
        return;
      }
    } else if (options.refuseAllTokens === true || !valid.has(token)) {
      send(res, 401, { code: "INVALID_AUTH_TOKEN", message: "the token is invalid" });
      return;
    }
    const canned = options.routes?.[path];
    if (canned !== undefined) {
      send(res, canned[0], canned[1]);
      return;
    }
    if (path === "/v3/watch") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`event: created\ndata: ${JSON.stringify({ header: HEADER })}\n\n`);
      return;
    }
    send(res, 200, { header: HEADER });
  };
  server = await fakeServer([
    (res, req) => {
      void respond(res, req);
    },
  ]);
  const s = server;
  return Object.assign(s, {
    issued,
    authentications: () => s.seen.filter((r) => r.url === "/v3/auth/authenticate"),
    calls: () => s.seen.filter((r) => r.url !== "/v3/auth/authenticate"),
    revokeTokens: () => valid.clear(),
  });
}

/** Fake auth servers for one test file, closed after each test. */
export function fakeAuthServers() {
  const servers: FakeServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return async (options: FakeAuthOptions = {}): Promise<FakeAuthServer> => {
    const s = await fakeAuthServer(options);
    servers.push(s);
    return s;
  };
}
