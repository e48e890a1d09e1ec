import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capturedLog } from "../support/captured-log.js";
import { enableAuth, post } from "./auth-support.js";
import { type Member, startCluster, type TestCluster } from "./cluster.js";

const { logger, lines: logged } = capturedLog();
const lines = logged as { msg: string; code?: string; suppressed?: number }[];
let cluster: TestCluster;
let leader: Member;

beforeAll(async () => {
  cluster = await startCluster({
    loggerInstance: logger,
    // Guesses here are about the log; lockouts are shown in auth-lockout.test.ts.
    auth: { bcryptCost: 4, failureLimits: { maxFailures: 1000 } },
  });
  leader = await cluster.leader();
  await enableAuth(leader);
});
afterAll(async () => {
  await cluster.stop();
});

describe("refused credentials in the log", () => {
  it("are logged once per kind and client per interval, however many arrive", async () => {
    for (let i = 0; i < 20; i++) {
      const r = await post(leader, "/v3/auth/authenticate", {
        name: "root",
        password: `guess-${i}`,
      });
      expect(r.status).toBe(401);
      expect((await post(leader, "/v3/kv/range", { key: "YQ==" }, "forged")).status).toBe(401);
    }
    const refused = lines.filter((l) => l.msg === "refused client credentials");
    expect(refused.map((l) => l.code).sort()).toEqual(["AUTH_FAILED", "INVALID_AUTH_TOKEN"]);
    // Nothing of the guesses themselves reaches the log.
    expect(JSON.stringify(lines)).not.toContain("guess-");
  });
});

describe("password checks", () => {
  it("refuses checks beyond the concurrent bound with 429 rather than queueing them", async () => {
    const bounded = await startCluster({ auth: { bcryptCost: 8, maxConcurrentPasswordChecks: 1 } });
    try {
      const m = await bounded.leader();
      await enableAuth(m);
      const answers = await Promise.all(
        Array.from({ length: 4 }, () =>
          post(m, "/v3/auth/authenticate", { name: "reader", password: "reader-password" }),
        ),
      );
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses[0]).toBe(200);
      expect(statuses.at(-1)).toBe(429);
      expect(answers.find((a) => a.status === 429)?.body.code).toBe("TOO_MANY_AUTH_REQUESTS");
      // Once the running check is done, the next one is served.
      expect(
        (await post(m, "/v3/auth/authenticate", { name: "reader", password: "reader-password" }))
          .status,
      ).toBe(200);
    } finally {
      await bounded.stop();
    }
  });
});
