import { afterEach, describe, expect, it, vi } from "vitest";
import {
  AuthFailedError,
  AuthRequiredError,
  type ClientOptions,
  ConclaveClient,
  InvalidAuthTokenError,
  PermissionDeniedError,
  seededRandom,
} from "../../src/client/index.js";
import { fakeAuthServers } from "./fake-auth-server.js";

const serve = fakeAuthServers();
const clients: ConclaveClient[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

function clientOf(url: string, options: Partial<ClientOptions> = {}): ConclaveClient {
  const c = new ConclaveClient({ endpoints: [url], random: seededRandom(11), ...options });
  clients.push(c);
  return c;
}

const alice = { username: "alice", password: "wonderland" };
const leaseGrant = [200, { header: { revision: "7" }, ID: "5", TTL: "10" }] as const;

describe("authenticating with a username and password", () => {
  it("authenticates lazily before the first call and sends the token on every call", async () => {
    const s = await serve({ routes: { "/v3/lease/grant": leaseGrant } });
    const c = clientOf(s.url, alice);
    expect(s.seen).toHaveLength(0);
    await c.get("k");
    await c.put("k", "v");
    await c.leaseGrant(10);
    expect(s.authentications()).toHaveLength(1);
    expect(s.authentications()[0]!.body).toEqual({ name: "alice", password: "wonderland" });
    expect(s.authentications()[0]!.headers.authorization).toBeUndefined();
    expect(s.calls().map((r) => r.url)).toEqual(["/v3/kv/range", "/v3/kv/put", "/v3/lease/grant"]);
    expect(s.calls().map((r) => r.headers.authorization)).toEqual([
      s.issued[0],
      s.issued[0],
      s.issued[0],
    ]);
  });

  it("shares one authentication between calls that start together", async () => {
    const s = await serve();
    const c = clientOf(s.url, alice);
    await Promise.all([c.get("a"), c.get("b"), c.put("c", "v")]);
    expect(s.authentications()).toHaveLength(1);
    expect(s.calls()).toHaveLength(3);
  });

  it("sends the token when it opens a watch stream", async () => {
    const s = await serve();
    const c = clientOf(s.url, alice);
    const watch = c.watch("k");
    await watch.ready;
    const opened = s.calls().find((r) => r.url === "/v3/watch");
    expect(opened?.headers.authorization).toBe(s.issued[0]);
    watch.cancel();
  });

  it("authenticates again, once, and sends the call again when the server refuses the token", async () => {
    const s = await serve();
    const c = clientOf(s.url, alice);
    await c.get("k");
    s.revokeTokens();
    await c.put("k", "v");
    expect(s.issued).toHaveLength(2);
    const puts = s.calls().filter((r) => r.url === "/v3/kv/put");
    expect(puts.map((r) => r.headers.authorization)).toEqual([s.issued[0], s.issued[1]]);
    // The same write: the server applies its idempotency key once.
    expect(puts[1]!.headers["idempotency-key"]).toBe(puts[0]!.headers["idempotency-key"]);
    // Later calls carry the new token without asking again.
    await c.get("k");
    expect(s.calls().at(-1)!.headers.authorization).toBe(s.issued[1]);
    expect(s.authentications()).toHaveLength(2);
  });

  it("throws InvalidAuthTokenError when the fresh token is refused as well", async () => {
    const s = await serve({ refuseAllTokens: true });
    const c = clientOf(s.url, alice);
    const error = await c.memberRemove(3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidAuthTokenError);
    expect(error).toMatchObject({ code: "INVALID_AUTH_TOKEN", status: 401 });
    expect(s.authentications()).toHaveLength(2);
    expect(s.calls()).toHaveLength(2);
  });

  it("exchanges the token for a new one once 80% of its life has passed", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const s = await serve({ ttlSeconds: 100 });
    const c = clientOf(s.url, alice);
    await c.get("k");
    vi.setSystemTime(Date.now() + 79_000);
    await c.get("k");
    expect(s.authentications()).toHaveLength(1);
    vi.setSystemTime(Date.now() + 2_000);
    await c.get("k");
    expect(s.authentications()).toHaveLength(2);
    expect(s.calls().map((r) => r.headers.authorization)).toEqual([
      s.issued[0],
      s.issued[0],
      s.issued[1],
    ]);
  });

  it("throws AuthFailedError for a wrong password and sends no call", async () => {
    const s = await serve();
    const c = clientOf(s.url, { username: "alice", password: "guess" });
    const error = await c.put("k", "v").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthFailedError);
    expect(error).toMatchObject({ code: "AUTH_FAILED", status: 401 });
    expect(s.calls()).toHaveLength(0);
    // Not retried: a wrong password stays wrong.
    expect(s.authentications()).toHaveLength(1);
  });
});

describe("other credentials and typed errors", () => {
  it("sends a given token as is and never authenticates", async () => {
    const s = await serve();
    const token = await clientOf(s.url).auth.authenticate("alice", "wonderland");
    const c = clientOf(s.url, { token });
    await c.get("k");
    expect(s.calls()[0]!.headers.authorization).toBe(token);
    // A given token cannot be renewed: refused, it reaches the caller at once.
    s.revokeTokens();
    const error = await c.put("k", "v").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidAuthTokenError);
    expect(s.authentications()).toHaveLength(1);
    expect(s.calls()).toHaveLength(2);
  });

  it("throws AuthRequiredError without credentials and PermissionDeniedError for a refused key", async () => {
    const s = await serve({
      routes: { "/v3/kv/put": [403, { code: "PERMISSION_DENIED", message: "no write on k" }] },
    });
    const anonymous = clientOf(s.url);
    expect(await anonymous.get("k").catch((e: unknown) => e)).toBeInstanceOf(AuthRequiredError);
    const c = clientOf(s.url, alice);
    const error = await c.put("k", "v").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect(error).toMatchObject({
      code: "PERMISSION_DENIED",
      status: 403,
      message: "no write on k",
    });
    // A refusal is an answer, not a failure to retry.
    expect(s.calls().filter((r) => r.url === "/v3/kv/put")).toHaveLength(1);
  });

  it("refuses credentials that do not go together", () => {
    const make = (o: Partial<ClientOptions>) => () =>
      new ConclaveClient({ endpoints: ["http://127.0.0.1:1"], ...o });
    expect(make({ username: "alice" })).toThrow(/needs a password/);
    expect(make({ password: "x" })).toThrow(/needs a non-empty username/);
    expect(make({ token: "t", username: "alice", password: "x" })).toThrow(/not both/);
    expect(make({ token: "" })).toThrow(/token must be a non-empty string/);
    expect(make({ tls: { cert: "PEM" } })).toThrow(/tls.cert and tls.key go together/);
  });
});

describe("credentials over plain http", () => {
  it("warns once per endpoint of another host, never for https or loopback", async () => {
    const emitted = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      const make = (endpoints: string[]) => new ConclaveClient({ endpoints, ...alice }).close();
      await make(["http://127.0.0.1:2379", "http://localhost:2379", "http://[::1]:2379"]);
      await make(["https://10.0.0.9:2379"]);
      await new ConclaveClient({ endpoints: ["http://10.0.0.9:2379"] }).close();
      expect(emitted).not.toHaveBeenCalled();
      await make(["http://10.0.0.9:2379", "https://10.0.0.8:2379"]);
      await make(["http://10.0.0.9:2379"]);
      expect(emitted).toHaveBeenCalledTimes(1);
      expect(emitted.mock.calls[0]).toEqual([
        "credentials will be sent in plain text to http://10.0.0.9:2379: use https endpoints",
        { code: "CONCLAVE_PLAINTEXT_CREDENTIALS" },
      ]);
    } finally {
      emitted.mockRestore();
    }
  });
});
