import { describe, expect, it } from "vitest";
import { fakeAuthServers } from "../client/fake-auth-server.js";
import { runCli } from "./run-cli.js";

const serve = fakeAuthServers();

describe("conclave lock and elect as a user", () => {
  it("lock authenticates with --user and $CONCLAVE_PASSWORD, and names an auth refusal", async () => {
    const s = await serve({
      routes: { "/v3/lease/grant": [403, { code: "PERMISSION_DENIED", message: "no write" }] },
    });
    const r = await runCli(
      ["lock", "jobs", "--endpoints", s.url, "--user", "alice", "--wait", "0", "--", "true"],
      { env: { CONCLAVE_PASSWORD: "wonderland" } },
    );
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(
      /^conclave lock: lock backend conclave refused access to lock "jobs": no write \(PERMISSION_DENIED\) \(check --user/,
    );
    expect(s.authentications().map((a) => a.body)).toEqual([
      { name: "alice", password: "wonderland" },
    ]);
    expect(s.calls()[0]!.headers.authorization).toBe(s.issued[0]);
  });

  it("elect never waits for a password when standard input is not a terminal", async () => {
    const s = await serve();
    const r = await runCli(["elect", "leader", "--endpoints", s.url, "--user", "alice"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^conclave elect: no password for user alice: set \$CONCLAVE_PASSWORD/,
    );
    expect(r.stderr).toMatch(/--user NAME\[:PASSWORD\]/);
    expect(s.seen).toHaveLength(0);
  });
});
