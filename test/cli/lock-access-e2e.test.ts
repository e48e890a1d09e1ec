/**
 * Refused access against the real server with auth enabled: the conclave
 * lock backend's typed refusal, `conclave lock` printing it, and the SDK
 * meeting a lockout after repeated failed authentications.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuthFailedError,
  ConclaveClient,
  TooManyAuthRequestsError,
} from "../../src/client/index.js";
import { ConclaveLockBackend } from "../../src/lock/conclave/index.js";
import { LockAccessDeniedError, LockClient } from "../../src/lock/index.js";
import type { HttpCluster } from "../server/http-cluster.js";
import { startAuthCluster } from "./auth-cluster.js";
import { runCli } from "./run-cli.js";

const ALICE_PASSWORD = "alice-password-for-the-test";
const BOB_PASSWORD = "bob-password-for-the-test";
const clock = { nowMs: 0 };

let cluster: HttpCluster;

beforeAll(async () => {
  ({ cluster } = await startAuthCluster(
    {
      auth: {
        bcryptCost: 4,
        failureLimits: { maxFailures: 3, firstLockoutMs: 10_000 },
        failureClockMs: () => clock.nowMs,
      },
    },
    [
      [["role", "add", "locker"]],
      [["role", "grant-permission", "locker", "readwrite", "conclave/lock/", "--prefix"]],
      [["role", "add", "reader"]],
      [["role", "grant-permission", "reader", "read", "a/", "--prefix"]],
      [["user", "add", "alice", "--new-password-stdin"], `${ALICE_PASSWORD}\n`],
      [["user", "grant-role", "alice", "locker"]],
      [["user", "add", "bob", "--new-password-stdin"], `${BOB_PASSWORD}\n`],
      [["user", "grant-role", "bob", "reader"]],
    ],
  ));
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
});

/** What acquiring `name` as `credentials` fails with (a long wait: a refusal must not wait it out). */
async function acquireError(name: string, credentials: { username?: string; password?: string }) {
  const locks = new LockClient(
    new ConclaveLockBackend({ endpoints: cluster.urls, ...credentials }),
  );
  try {
    const lock = await locks.acquire(name, { ttlMs: 5000, waitMs: 60_000 });
    await lock.release();
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await locks.close();
  }
}

describe("refused access to a lock", () => {
  it("is a LockAccessDeniedError naming the server's code and the lock, for each refusal", async () => {
    const cases = [
      [{ username: "bob", password: BOB_PASSWORD }, "PERMISSION_DENIED"],
      [{}, "AUTH_REQUIRED"],
      [{ username: "alice", password: "not-her-password" }, "AUTH_FAILED"],
    ] as const;
    for (const [credentials, serverCode] of cases) {
      const error = await acquireError("jobs/nightly", credentials);
      expect(error, serverCode).toBeInstanceOf(LockAccessDeniedError);
      expect(error).toMatchObject({
        code: "LOCK_ACCESS_DENIED",
        serverCode,
        lockName: "jobs/nightly",
        backend: "conclave",
      });
      expect((error as Error).message).toContain(`"jobs/nightly"`);
    }
    // A user with the role is served, so the refusals above were about access.
    expect(
      await acquireError("jobs/nightly", { username: "alice", password: ALICE_PASSWORD }),
    ).toBeUndefined();
  });

  it("conclave lock prints the refusal, its server code and a hint, and exits 125", async () => {
    const r = await runCli(
      ["lock", "jobs", "--endpoints", cluster.urls.join(","), "--user", "bob", "--", "true"],
      { env: { CONCLAVE_PASSWORD: BOB_PASSWORD } },
    );
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(
      /^conclave lock: lock backend conclave refused access to lock "jobs": .*\(PERMISSION_DENIED\) \(check --user/,
    );
  });
});

describe("an SDK client with a wrong password", () => {
  it("gets a typed lockout with the server's retry-after, and then sends nothing until it passes", async () => {
    // One member, so every attempt meets the same member's count.
    const endpoints = [cluster.urls[0]!];
    const wrong = new ConclaveClient({ endpoints, username: "alice", password: "guess" });
    const right = new ConclaveClient({ endpoints, username: "alice", password: ALICE_PASSWORD });
    try {
      clock.nowMs += 10 * 60_000;
      for (let i = 0; i < 3; i++) {
        await expect(wrong.get(new TextEncoder().encode("a/x"))).rejects.toBeInstanceOf(
          AuthFailedError,
        );
      }
      const locked = await right.get(new TextEncoder().encode("a/x")).catch((e: unknown) => e);
      expect(locked).toBeInstanceOf(TooManyAuthRequestsError);
      expect((locked as TooManyAuthRequestsError).retryAfterMs).toBe(10_000);
      expect((locked as TooManyAuthRequestsError).status).toBe(429);
      // Within retry-after the client answers on its own: no status, nothing sent.
      const again = await right.get(new TextEncoder().encode("a/x")).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(TooManyAuthRequestsError);
      expect((again as TooManyAuthRequestsError).status).toBeUndefined();
    } finally {
      await wrong.close();
      await right.close();
    }
  });
});
