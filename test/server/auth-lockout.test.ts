import bcrypt from "bcryptjs";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { capturedLog } from "../support/captured-log.js";
import { enableAuth, ROOT_PASSWORD } from "./auth-support.js";
import { type Member, startCluster, type TestCluster } from "./cluster.js";

const clock = { nowMs: 0 };
const { logger, lines } = capturedLog();
let cluster: TestCluster;
let leader: Member;

beforeAll(async () => {
  cluster = await startCluster({
    loggerInstance: logger,
    auth: {
      bcryptCost: 4,
      failureLimits: { maxFailures: 3, windowMs: 60_000, firstLockoutMs: 10_000 },
      failureClockMs: () => clock.nowMs,
    },
  });
  leader = await cluster.leader();
  await enableAuth(leader);
});
afterAll(async () => {
  await cluster.stop();
});
afterEach(() => {
  vi.restoreAllMocks();
  // Past any lockout and its backoff window, so each test starts from a clean count.
  clock.nowMs += 10 * 60_000;
});

async function authenticate(name: string, password: string, remoteAddress = "127.0.0.1") {
  const res = await leader.app.inject({
    method: "POST",
    url: "/v3/auth/authenticate",
    payload: { name, password },
    remoteAddress,
  });
  return {
    status: res.statusCode,
    code: (JSON.parse(res.body) as { code?: string }).code,
    retryAfter: res.headers["retry-after"],
  };
}

describe("failed authentications", () => {
  it("locks a host out after the threshold, with 429 and retry-after, without running bcrypt", async () => {
    for (let i = 0; i < 3; i++) {
      expect((await authenticate("root", `guess-${i}`)).code).toBe("AUTH_FAILED");
    }
    const compare = vi.spyOn(bcrypt, "compare");
    // Even the right password is refused while the host is locked out.
    const refused = await authenticate("root", ROOT_PASSWORD);
    expect(refused).toEqual({ status: 429, code: "TOO_MANY_AUTH_REQUESTS", retryAfter: "10" });
    // Another loopback address is the same host.
    expect((await authenticate("reader", "x", "127.0.0.2")).status).toBe(429);
    expect(compare).not.toHaveBeenCalled();

    // The lockout is logged, for the host and for the name, but not with the name tried.
    const lockouts = lines.filter((l) => String(l["msg"]).startsWith("too many failed"));
    expect(lockouts).toMatchObject([
      { client: "loopback", lockoutMs: 10_000 },
      { lockoutMs: 10_000 },
    ]);
    expect(JSON.stringify(lockouts)).not.toContain("root");

    clock.nowMs += 10_000;
    expect((await authenticate("root", ROOT_PASSWORD)).status).toBe(200);
    // The spy does see a check that runs.
    expect(compare).toHaveBeenCalledTimes(1);
  });

  it("leaves a different host alone, but locks out the user name guessed at from many hosts", async () => {
    for (let i = 0; i < 3; i++) {
      expect((await authenticate("reader", "wrong", `192.0.2.${i + 1}`)).code).toBe("AUTH_FAILED");
    }
    // The name is locked out, from any host.
    expect((await authenticate("reader", "reader-password", "198.51.100.7")).status).toBe(429);
    // Other names from other hosts are served, even from a host that took part.
    expect((await authenticate("writer", "writer-password", "198.51.100.7")).status).toBe(200);
    expect((await authenticate("writer", "writer-password", "192.0.2.1")).status).toBe(200);
  });

  it("clears the host's count on a success", async () => {
    for (let round = 0; round < 3; round++) {
      expect((await authenticate("root", "wrong-1")).code).toBe("AUTH_FAILED");
      expect((await authenticate("writer", "wrong-2")).code).toBe("AUTH_FAILED");
      expect((await authenticate("reader", "reader-password")).status).toBe(200);
    }
  });

  it("counts nothing for a request refused for its shape", async () => {
    for (let i = 0; i < 5; i++) {
      expect((await authenticate("", "x")).status).toBe(400);
    }
    expect((await authenticate("root", ROOT_PASSWORD)).status).toBe(200);
  });
});
