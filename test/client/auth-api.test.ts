import { afterEach, describe, expect, it } from "vitest";
import { BadResponseError, ConclaveClient, seededRandom } from "../../src/client/index.js";
import { fakeAuthServers } from "./fake-auth-server.js";

const serve = fakeAuthServers();
const clients: ConclaveClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

const b64 = (s: string) => Buffer.from(s).toString("base64");
const header = { revision: "7" };

async function anonymous(routes: Record<string, readonly [number, unknown]> = {}) {
  const s = await serve({ required: false, routes });
  const c = new ConclaveClient({ endpoints: [s.url], random: seededRandom(5) });
  clients.push(c);
  return { s, c };
}

describe("client.auth", () => {
  it("sends each change to its route with the contract's body", async () => {
    const { s, c } = await anonymous();
    await c.auth.enable();
    await c.auth.disable();
    await c.auth.userAdd("alice", { password: "pw" });
    await c.auth.userAdd("svc", { noPassword: true });
    await c.auth.userDelete("svc");
    await c.auth.userChangePassword("alice", "pw2");
    await c.auth.userGrantRole("alice", "app");
    await c.auth.userRevokeRole("alice", "app");
    await c.auth.roleAdd("app");
    await c.auth.roleDelete("old");
    await c.auth.roleGrantPermission("app", "readwrite", { key: "app/", prefix: true });
    await c.auth.roleGrantPermission("app", "read", { key: "a", rangeEnd: "c" });
    await c.auth.roleGrantPermission("app", "write", { key: "one" });
    await c.auth.roleRevokePermission("app", { key: "app/", prefix: true });
    expect(s.calls().map((r) => [r.url, r.body])).toEqual([
      ["/v3/auth/enable", {}],
      ["/v3/auth/disable", {}],
      ["/v3/auth/user/add", { name: "alice", password: "pw" }],
      ["/v3/auth/user/add", { name: "svc", options: { no_password: true } }],
      ["/v3/auth/user/delete", { name: "svc" }],
      ["/v3/auth/user/changepw", { name: "alice", password: "pw2" }],
      ["/v3/auth/user/grant", { user: "alice", role: "app" }],
      ["/v3/auth/user/revoke", { name: "alice", role: "app" }],
      ["/v3/auth/role/add", { name: "app" }],
      ["/v3/auth/role/delete", { role: "old" }],
      [
        "/v3/auth/role/grant",
        { name: "app", perm: { permType: "READWRITE", key: b64("app/"), range_end: b64("app0") } },
      ],
      [
        "/v3/auth/role/grant",
        { name: "app", perm: { permType: "READ", key: b64("a"), range_end: b64("c") } },
      ],
      ["/v3/auth/role/grant", { name: "app", perm: { permType: "WRITE", key: b64("one") } }],
      ["/v3/auth/role/revoke", { role: "app", key: b64("app/"), range_end: b64("app0") }],
    ]);
  });

  it("reads status, users and roles into typed answers", async () => {
    const { c } = await anonymous({
      "/v3/auth/status": [200, { header, enabled: true, authRevision: "12" }],
      "/v3/auth/user/get": [200, { header, roles: ["root", "app"] }],
      "/v3/auth/user/list": [200, { header, users: ["alice", "root"] }],
      "/v3/auth/role/list": [200, { header, roles: ["app", "root"] }],
      "/v3/auth/role/get": [
        200,
        {
          header,
          perm: [
            { permType: "READWRITE", key: b64("app/"), range_end: b64("app0") },
            { permType: "READ", key: b64("x") },
          ],
        },
      ],
    });
    expect(await c.auth.status()).toEqual({ revision: 7, enabled: true, authRevision: 12 });
    expect(await c.auth.userGet("alice")).toEqual({ revision: 7, roles: ["root", "app"] });
    expect(await c.auth.userList()).toEqual({ revision: 7, users: ["alice", "root"] });
    expect(await c.auth.roleList()).toEqual({ revision: 7, roles: ["app", "root"] });
    const role = await c.auth.roleGet("app");
    expect(role.permissions).toEqual([
      {
        type: "readwrite",
        key: new Uint8Array(Buffer.from("app/")),
        rangeEnd: new Uint8Array(Buffer.from("app0")),
      },
      { type: "read", key: new Uint8Array(Buffer.from("x")) },
    ]);
  });

  it("refuses bad arguments before sending and a malformed answer after", async () => {
    const { s, c } = await anonymous({
      "/v3/auth/role/get": [200, { header, perm: [{ permType: "ALL", key: b64("x") }] }],
    });
    await expect(c.auth.userAdd("alice", {})).rejects.toThrow(/password of user alice/);
    await expect(c.auth.userAdd("", { password: "x" })).rejects.toThrow(/user name/);
    await expect(c.auth.userAdd("alice", { password: "x", noPassword: true })).rejects.toThrow(
      /not both/,
    );
    await expect(c.auth.roleGrantPermission("app", "all" as "read", { key: "k" })).rejects.toThrow(
      /permission type/,
    );
    await expect(
      c.auth.roleGrantPermission("app", "read", { key: "k", prefix: true, rangeEnd: "z" }),
    ).rejects.toThrow(/prefix or rangeEnd/);
    expect(s.calls()).toHaveLength(0);
    await expect(c.auth.roleGet("app")).rejects.toBeInstanceOf(BadResponseError);
  });
});
