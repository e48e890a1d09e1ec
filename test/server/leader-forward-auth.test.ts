import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memberTokenKey, signMemberToken } from "../../src/auth/index.js";
import {
  FORWARDED_BY_HEADER,
  FORWARDED_FOR_HEADER,
  forwardCredentials,
} from "../../src/server/forward-identity.js";
import { enableAuth, ROOT_PASSWORD } from "./auth-support.js";
import { b64, type Member, text, waitFor } from "./cluster.js";
import { type HttpCluster, okJson, postJson, startHttpCluster } from "./http-cluster.js";

const KEY = memberTokenKey("a cluster secret shared by the members of this test");

let cluster: HttpCluster;
let leader: Member;
let follower: Member;
let rootToken: string;
let writerToken: string;
let readerToken: string;

const post = (m: Member, path: string, payload: unknown, headers?: Record<string, string>) =>
  postJson(cluster.urlOf(m.id), path, payload, headers);

const ok = (m: Member, path: string, payload: unknown, headers?: Record<string, string>) =>
  okJson(cluster.urlOf(m.id), path, payload, headers);

const tokenOn = async (m: Member, name: string, password: string) =>
  (await ok(m, "/v3/auth/authenticate", { name, password })).token as string;

const memberCredential = async (id: number) =>
  `Member ${await signMemberToken(id, KEY, Date.now())}`;

beforeAll(async () => {
  cluster = await startHttpCluster({ auth: { bcryptCost: 4, memberTokenKey: KEY } });
  leader = await cluster.leader();
  [follower] = (await cluster.followers()) as [Member];
  await enableAuth(leader);
  await waitFor(() => follower.store.auth.enabled, "auth enabled on the follower");
  rootToken = await tokenOn(follower, "root", ROOT_PASSWORD);
  writerToken = await tokenOn(follower, "writer", "writer-password");
  readerToken = await tokenOn(follower, "reader", "reader-password");
});
afterAll(async () => {
  await cluster.stop();
});

describe("forwarding with auth enabled", () => {
  it("forwards a user's token: the write is applied with that user's permissions", async () => {
    const put = await ok(
      follower,
      "/v3/kv/put",
      { key: b64("a/fw"), value: b64("w") },
      { authorization: writerToken },
    );
    const range = await ok(
      leader,
      "/v3/kv/range",
      { key: b64("a/fw") },
      { authorization: readerToken },
    );
    expect(text(range.kvs[0].value)).toBe("w");
    expect(range.kvs[0].mod_revision).toBe(put.header.revision);
  });

  it("forwards root-only calls for root", async () => {
    await ok(follower, "/v3/auth/role/add", { name: "fw-role" }, { authorization: rootToken });
    const role = await ok(
      leader,
      "/v3/auth/role/get",
      { role: "fw-role" },
      {
        authorization: rootToken,
      },
    );
    expect(role.perm ?? []).toEqual([]);
  });

  it("refuses through a follower what the user may not do (403)", async () => {
    const outside = await post(
      follower,
      "/v3/kv/put",
      { key: b64("b/fw"), value: b64("w") },
      { authorization: writerToken },
    );
    expect(outside.status).toBe(403);
    expect(outside.body.code).toBe("PERMISSION_DENIED");
    const readOnly = await post(
      follower,
      "/v3/kv/put",
      { key: b64("a/fw"), value: b64("r") },
      { authorization: readerToken },
    );
    expect(readOnly.status).toBe(403);
    const compaction = await post(
      follower,
      "/v3/kv/compaction",
      { revision: "1" },
      { authorization: writerToken },
    );
    expect(compaction.status).toBe(403);
  });

  it("refuses a forwarded-for header without a member credential", async () => {
    const payload = { key: b64("b/forged"), value: b64("x") };
    for (const m of [leader, follower]) {
      const withUserToken = await post(m, "/v3/kv/put", payload, {
        authorization: writerToken,
        [FORWARDED_BY_HEADER]: String(follower.id),
        [FORWARDED_FOR_HEADER]: "root",
      });
      expect(withUserToken.status).toBe(401);
      expect(withUserToken.body.code).toBe("INVALID_FORWARDED_IDENTITY");
      const anonymous = await post(m, "/v3/kv/put", payload, {
        [FORWARDED_BY_HEADER]: String(follower.id),
        [FORWARDED_FOR_HEADER]: "root",
      });
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.code).toBe("INVALID_FORWARDED_IDENTITY");
    }
    const range = await ok(
      leader,
      "/v3/kv/range",
      { key: b64("b/forged") },
      {
        authorization: rootToken,
      },
    );
    expect(range.kvs ?? []).toEqual([]);
  });

  it("refuses a member credential forwarding as another member", async () => {
    const r = await post(
      leader,
      "/v3/kv/put",
      { key: b64("a/other"), value: b64("x") },
      {
        authorization: await memberCredential(follower.id),
        [FORWARDED_BY_HEADER]: String(leader.id),
        [FORWARDED_FOR_HEADER]: "writer",
      },
    );
    expect(r.status).toBe(401);
    expect(r.body.code).toBe("INVALID_FORWARDED_IDENTITY");
  });

  it("applies the named user's permissions to a member's forward, never root's", async () => {
    const asWriter = {
      authorization: await memberCredential(follower.id),
      [FORWARDED_BY_HEADER]: String(follower.id),
      [FORWARDED_FOR_HEADER]: "writer",
    };
    await ok(leader, "/v3/kv/put", { key: b64("a/member"), value: b64("m") }, asWriter);
    const outside = await post(
      leader,
      "/v3/kv/put",
      { key: b64("b/member"), value: b64("m") },
      asWriter,
    );
    expect(outside.status).toBe(403);
    const rootOnly = await post(leader, "/v3/auth/role/add", { name: "nope" }, asWriter);
    expect(rootOnly.status).toBe(403);
    const nobody = await post(
      leader,
      "/v3/kv/put",
      { key: b64("a/member"), value: b64("m") },
      { ...asWriter, [FORWARDED_FOR_HEADER]: "no-such-user" },
    );
    expect(nobody.status).toBe(401);
  });

  it("forwards a certificate user with the member credential and the user's name", async () => {
    const signer = { selfId: follower.id, memberTokenKey: KEY, nowMs: Date.now };
    const headers = await forwardCredentials({ headers: {}, authUser: "writer" }, signer);
    expect(headers?.[FORWARDED_FOR_HEADER]).toBe("writer");
    expect(headers?.["authorization"]).toMatch(/^Member /);
    const put = await post(
      leader,
      "/v3/kv/put",
      { key: b64("a/cert"), value: b64("c") },
      { ...headers, [FORWARDED_BY_HEADER]: String(follower.id) },
    );
    expect(put.status).toBe(200);
    // Without a cluster secret there is nothing to vouch with: the follower answers NOT_LEADER.
    const insecure = { ...signer, memberTokenKey: undefined };
    expect(await forwardCredentials({ headers: {}, authUser: "writer" }, insecure)).toBeUndefined();
    // A token needs no vouching, secret or not.
    expect(
      await forwardCredentials(
        { headers: { authorization: writerToken }, authUser: "writer" },
        insecure,
      ),
    ).toEqual({ authorization: writerToken });
  });
});
