import { describe, expect, it } from "vitest";
import {
  ConclaveClient,
  InvalidAuthTokenError,
  PermissionDeniedError,
} from "../../src/client/index.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { ConclaveLockBackend } from "../../src/lock/conclave/index.js";
import { LockAccessDeniedError, LockClient } from "../../src/lock/index.js";
import { fakeAuthServers } from "../client/fake-auth-server.js";

const serve = fakeAuthServers();
const denied = [403, { code: "PERMISSION_DENIED", message: "no write on conclave/lock" }] as const;

/** Tries one lock acquisition and returns why it failed. */
async function acquireError(backend: ConclaveLockBackend): Promise<unknown> {
  const locks = new LockClient(backend);
  try {
    return await locks.acquire("jobs", { ttlMs: 5000, waitMs: 0 }).then(
      () => new Error("acquired"),
      (error: unknown) => error,
    );
  } finally {
    await locks.destroy();
  }
}

describe("conclave lock backend: TLS and credentials", () => {
  it("authenticates its own client as the given user and sends the token with every call", async () => {
    const s = await serve({ routes: { "/v3/lease/grant": denied } });
    const error = await acquireError(
      new ConclaveLockBackend({ endpoints: [s.url], username: "alice", password: "wonderland" }),
    );
    expect(error).toBeInstanceOf(LockAccessDeniedError);
    expect(error).toMatchObject({ serverCode: "PERMISSION_DENIED", lockName: "jobs" });
    expect((error as Error).cause).toBeInstanceOf(PermissionDeniedError);
    expect(s.authentications().map((r) => r.body)).toEqual([
      { name: "alice", password: "wonderland" },
    ]);
    expect(s.calls().map((r) => r.url)).toContain("/v3/lease/grant");
    expect(s.calls().map((r) => r.headers.authorization)).toEqual(s.calls().map(() => s.issued[0]));
  });

  it("sends a given token as is", async () => {
    const s = await serve();
    const error = await acquireError(
      new ConclaveLockBackend({ endpoints: [s.url], token: "not-issued-here" }),
    );
    expect(error).toMatchObject({ code: "LOCK_ACCESS_DENIED", serverCode: "INVALID_AUTH_TOKEN" });
    expect((error as Error).cause).toBeInstanceOf(InvalidAuthTokenError);
    expect(s.calls()[0]!.headers.authorization).toBe("not-issued-here");
    expect(s.authentications()).toHaveLength(0);
  });

  it("hands TLS options to its client, which checks them before connecting", () => {
    expect(
      () => new ConclaveLockBackend({ endpoints: ["https://127.0.0.1:1"], tls: { cert: "PEM" } }),
    ).toThrow(/tls.cert and tls.key go together/);
  });

  it("refuses credentials beside a client passed in, which brings its own", async () => {
    await using client = new ConclaveClient({ endpoints: ["http://127.0.0.1:1"] });
    expect(() => new ConclaveLockBackend({ client, username: "alice" } as never)).toThrow(
      InvalidArgumentError,
    );
  });
});
