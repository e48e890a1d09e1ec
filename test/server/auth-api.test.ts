import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { routeAccessTable } from "../../src/server/route-access.js";
import { enableAuth, ok, post, ROOT_PASSWORD, token } from "./auth-support.js";
import { b64, type Member, startCluster, type TestCluster, text } from "./cluster.js";
import { registeredRoutes } from "./routes.js";
import { eventsOf, openWatch } from "./sse-client.js";

let cluster: TestCluster;
let leader: Member;
let nowMs = Date.UTC(2026, 0, 1);
let rootToken: string;

beforeAll(async () => {
  cluster = await startCluster({ auth: { bcryptCost: 4, nowMs: () => nowMs } });
  leader = await cluster.leader();
  await enableAuth(leader);
  rootToken = await token(leader, "root", ROOT_PASSWORD);
});
afterAll(async () => {
  await cluster.stop();
});

describe("auth on every route", () => {
  it("declares who may call each registered route", async () => {
    await leader.app.ready();
    const table = routeAccessTable({ store: leader.store } as never, {
      maxKeyBytes: 1,
      maxValueBytes: 1,
      maxTxnOps: 1,
      bodyLimitBytes: 1,
      requestTimeoutMs: 1,
      maxRequestDepth: 1,
      maxRangeBytes: 1,
      quotaBackendBytes: 1,
    });
    const missing = registeredRoutes(leader.app)
      .filter((r) => r.method !== "HEAD")
      .map((r) => `${r.method} ${r.url}`)
      .filter((key) => !table.has(key));
    expect(missing).toEqual([]);
  });

  it("refuses anonymous requests on every route but the open ones", async () => {
    const table = routeAccessTable({ store: leader.store } as never, {} as never);
    const answers: Record<string, string> = {};
    for (const [key, access] of table) {
      const [method, url] = key.split(" ") as ["GET" | "POST", string];
      const res = await leader.app.inject({
        method,
        url,
        payload: method === "POST" ? {} : undefined,
      });
      const code = res.statusCode === 401 ? JSON.parse(res.body).code : String(res.statusCode);
      answers[key] = access.kind === "open" ? "open" : code;
    }
    for (const [key, answer] of Object.entries(answers)) {
      if (answer !== "open") expect([key, answer]).toEqual([key, "AUTH_REQUIRED"]);
    }
    // The open ones answer without credentials.
    expect((await leader.app.inject({ method: "GET", url: "/health" })).statusCode).toBe(200);
    const status = await post(leader, "/v3/auth/status", {});
    expect(status.body).toMatchObject({ enabled: true });
  });

  it("refuses a token that is not one", async () => {
    const r = await post(leader, "/v3/kv/range", { key: b64("a/x") }, "not-a-token");
    expect(r).toMatchObject({ status: 401, body: { code: "INVALID_AUTH_TOKEN" } });
  });

  it("refuses a wrong password or an unknown user alike", async () => {
    for (const [name, password] of [
      ["root", "wrong"],
      ["nobody", ROOT_PASSWORD],
    ]) {
      const r = await post(leader, "/v3/auth/authenticate", { name, password });
      expect(r).toMatchObject({ status: 401, body: { code: "AUTH_FAILED" } });
    }
  });
});

describe("key permissions", () => {
  it("lets a reader of a/ read a/x, but not write it nor read b/", async () => {
    await ok(leader, "/v3/kv/put", { key: b64("a/x"), value: b64("1") }, rootToken);
    const reader = await token(leader, "reader", "reader-password");
    const read = await ok(leader, "/v3/kv/range", { key: b64("a/x") }, `Bearer ${reader}`);
    expect(text(read.kvs[0].value)).toBe("1");
    const prefix = await post(
      leader,
      "/v3/kv/range",
      { key: b64("a/"), range_end: b64("a0") },
      reader,
    );
    expect(prefix.status).toBe(200);
    const put = await post(leader, "/v3/kv/put", { key: b64("a/x"), value: b64("2") }, reader);
    expect(put).toMatchObject({ status: 403, body: { code: "PERMISSION_DENIED" } });
    const other = await post(leader, "/v3/kv/range", { key: b64("b/x") }, reader);
    expect(other).toMatchObject({ status: 403, body: { code: "PERMISSION_DENIED" } });
    // A range wider than the grant is refused even where it overlaps it.
    const wide = await post(leader, "/v3/kv/range", { key: b64("a"), range_end: b64("b") }, reader);
    expect(wide.status).toBe(403);
  });

  it("refuses a txn touching one forbidden key as a whole and applies nothing", async () => {
    const writer = await token(leader, "writer", "writer-password");
    const before = await ok(
      leader,
      "/v3/kv/range",
      { key: b64("a/"), range_end: b64("a0") },
      rootToken,
    );
    const txn = {
      compare: [],
      success: [
        { request_put: { key: b64("a/t"), value: b64("1") } },
        {
          request_txn: {
            compare: [],
            success: [],
            failure: [{ request_put: { key: b64("b/t"), value: b64("1") } }],
          },
        },
      ],
      failure: [],
    };
    const r = await post(leader, "/v3/kv/txn", txn, writer);
    expect(r).toMatchObject({ status: 403, body: { code: "PERMISSION_DENIED" } });
    expect(r.body.message).toContain("b/t");
    const after = await ok(
      leader,
      "/v3/kv/range",
      { key: b64("a/"), range_end: b64("a0") },
      rootToken,
    );
    expect(after.header.revision).toBe(before.header.revision);
    expect(after.kvs.map((kv: { key: string }) => text(kv.key))).toEqual(["a/x"]);
    // A compare on a forbidden key is a read of it.
    const peek = await post(
      leader,
      "/v3/kv/txn",
      { compare: [{ key: b64("b/secret"), target: "VERSION", result: "EQUAL", version: "0" }] },
      writer,
    );
    expect(peek.status).toBe(403);
    const allowed = await post(
      leader,
      "/v3/kv/txn",
      { success: [{ request_put: { key: b64("a/t"), value: b64("1") } }] },
      writer,
    );
    expect(allowed.status).toBe(200);
  });

  it("refuses a watch on a range the user may not read", async () => {
    const reader = await token(leader, "reader", "reader-password");
    const r = await post(leader, "/v3/watch", { key: b64("b/"), range_end: b64("b0") }, reader);
    expect(r).toMatchObject({ status: 403, body: { code: "PERMISSION_DENIED" } });
  });

  it("streams a watch on a range the user may read", async () => {
    await leader.app.listen({ host: "127.0.0.1", port: 0 });
    const address = leader.app.server.address() as AddressInfo;
    const reader = await token(leader, "reader", "reader-password");
    const opened = await openWatch(
      `http://127.0.0.1:${address.port}`,
      { key: b64("a/"), range_end: b64("a0") },
      { authorization: reader },
    );
    expect(opened.status).toBe(200);
    const stream = opened.stream!;
    try {
      expect((await stream.next())?.event).toBe("created");
      await ok(leader, "/v3/kv/put", { key: b64("a/w"), value: b64("1") }, rootToken);
      let message = await stream.next();
      while (message?.event !== "events") message = await stream.next();
      expect(eventsOf(message).events.map((e) => text(e.kv.key))).toEqual(["a/w"]);
    } finally {
      stream.close();
    }
  });

  it("lets only root add members, take snapshots, compact, raise alarms or manage auth", async () => {
    const writer = await token(leader, "writer", "writer-password");
    for (const [url, body] of [
      ["/v3/cluster/member/add", { peerURLs: ["127.0.0.1:1"] }],
      ["/v3/cluster/member/remove", { ID: "2" }],
      ["/v3/maintenance/snapshot", {}],
      ["/v3/maintenance/transfer-leadership", { targetID: "2" }],
      ["/v3/kv/compaction", { revision: "1" }],
      ["/v3/maintenance/alarm", { action: "GET" }],
      ["/v3/maintenance/alarm", { action: "ACTIVATE", memberID: "1", alarm: "NOSPACE" }],
      ["/v3/auth/user/list", {}],
      ["/v3/auth/user/add", { name: "mallory", password: "x" }],
      ["/v3/auth/disable", {}],
    ] as const) {
      const r = await post(leader, url, body, writer);
      expect([url, r.status, r.body.code]).toEqual([url, 403, "PERMISSION_DENIED"]);
    }
    // Any user may see status and the member list.
    expect((await post(leader, "/v3/maintenance/status", {}, writer)).status).toBe(200);
    expect((await post(leader, "/v3/cluster/member/list", {}, writer)).status).toBe(200);
    // A user may read its own entry, not another's.
    expect((await ok(leader, "/v3/auth/user/get", { name: "writer" }, writer)).roles).toEqual([
      "writer-a",
    ]);
    expect((await post(leader, "/v3/auth/user/get", { name: "root" }, writer)).status).toBe(403);
  });

  it("needs write on every key of a lease to revoke it", async () => {
    const writer = await token(leader, "writer", "writer-password");
    const lease = await ok(leader, "/v3/lease/grant", { TTL: "60" }, writer);
    await ok(
      leader,
      "/v3/kv/put",
      { key: b64("b/leased"), value: b64("1"), lease: lease.ID },
      rootToken,
    );
    const r = await post(leader, "/v3/lease/revoke", { ID: lease.ID }, writer);
    expect(r.status).toBe(403);
    await ok(leader, "/v3/lease/revoke", { ID: lease.ID }, rootToken);
  });
});

describe("tokens", () => {
  it("expire after the token TTL", async () => {
    const reader = await token(leader, "reader", "reader-password");
    expect((await post(leader, "/v3/kv/range", { key: b64("a/x") }, reader)).status).toBe(200);
    nowMs += 301_000;
    try {
      const r = await post(leader, "/v3/kv/range", { key: b64("a/x") }, reader);
      expect(r).toMatchObject({ status: 401, body: { code: "INVALID_AUTH_TOKEN" } });
      expect(r.body.message).toContain("expired");
    } finally {
      rootToken = await token(leader, "root", ROOT_PASSWORD);
    }
  });

  it("are invalid once their user's password changed, on every member", async () => {
    await ok(leader, "/v3/auth/user/add", { name: "carol", password: "old-password" }, rootToken);
    await ok(leader, "/v3/auth/user/grant", { user: "carol", role: "reader-a" }, rootToken);
    const old = await token(leader, "carol", "old-password");
    for (const m of cluster.members) {
      // Followers verify tokens issued by the leader: the signing key is replicated.
      await expect
        .poll(async () => (await post(m, "/v3/maintenance/status", {}, old)).status)
        .toBe(200);
    }
    await ok(leader, "/v3/auth/user/changepw", { name: "carol", password: "new-password" }, old);
    const r = await post(leader, "/v3/kv/range", { key: b64("a/x") }, old);
    expect(r).toMatchObject({ status: 401, body: { code: "INVALID_AUTH_TOKEN" } });
    const fresh = await token(leader, "carol", "new-password");
    expect((await post(leader, "/v3/kv/range", { key: b64("a/x") }, fresh)).status).toBe(200);
    expect(
      (await post(leader, "/v3/auth/authenticate", { name: "carol", password: "old-password" }))
        .status,
    ).toBe(401);
  });

  it("are invalid once their user's roles changed", async () => {
    const writer = await token(leader, "writer", "writer-password");
    await ok(leader, "/v3/auth/user/grant", { user: "writer", role: "reader-a" }, rootToken);
    const r = await post(leader, "/v3/kv/range", { key: b64("a/x") }, writer);
    expect(r).toMatchObject({ status: 401, body: { code: "INVALID_AUTH_TOKEN" } });
    await ok(leader, "/v3/auth/user/revoke", { name: "writer", role: "reader-a" }, rootToken);
  });

  it("are invalid after the user is deleted, or auth is disabled and enabled again", async () => {
    await ok(leader, "/v3/auth/user/add", { name: "dave", password: "dave-password" }, rootToken);
    const dave = await token(leader, "dave", "dave-password");
    await ok(leader, "/v3/auth/user/delete", { name: "dave" }, rootToken);
    expect((await post(leader, "/v3/maintenance/status", {}, dave)).status).toBe(401);

    const reader = await token(leader, "reader", "reader-password");
    await ok(leader, "/v3/auth/disable", {}, rootToken);
    // Disabled: everything is open, credentials or not.
    expect((await post(leader, "/v3/kv/range", { key: b64("b/x") })).status).toBe(200);
    await ok(leader, "/v3/auth/enable", {});
    const r = await post(leader, "/v3/kv/range", { key: b64("a/x") }, reader);
    expect(r).toMatchObject({ status: 401, body: { code: "INVALID_AUTH_TOKEN" } });
    rootToken = await token(leader, "root", ROOT_PASSWORD);
  });
});

describe("what is replicated", () => {
  it("never carries a password, in the log or in a snapshot", async () => {
    const secret = "a-very-distinctive-password";
    await ok(leader, "/v3/auth/user/add", { name: "erin", password: secret }, rootToken);
    await ok(
      leader,
      "/v3/auth/user/changepw",
      { name: "erin", password: `${secret}-2` },
      rootToken,
    );
    const needle = Buffer.from(secret);
    const log = leader.storage.entries(
      leader.storage.firstIndex(),
      leader.storage.lastIndex() + 1,
      Infinity,
    );
    expect(log.some((e) => Buffer.from(e.data).includes(Buffer.from("erin")))).toBe(true);
    expect(log.some((e) => Buffer.from(e.data).includes(needle))).toBe(false);
    const res = await leader.app.inject({
      method: "POST",
      url: "/v3/maintenance/snapshot",
      payload: {},
      headers: { authorization: rootToken },
    });
    expect(res.statusCode).toBe(200);
    const snapshot = res.rawPayload;
    expect(snapshot.includes(Buffer.from("erin"))).toBe(true);
    expect(snapshot.includes(needle)).toBe(false);
  });
});
