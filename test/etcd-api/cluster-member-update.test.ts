/**
 * member/update with peerURLs (etcd's MemberUpdate) over the HTTP API: the
 * address changes in the attributes and in every node's address book, one
 * member per address, and never by a member's own credential.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memberTokenKey, signMemberToken } from "../../src/auth/index.js";
import { encodeMemberAttributes } from "../../src/kv/index.js";
import { enableAuth, post, ROOT_PASSWORD, token } from "../server/auth-support.js";
import type { Member } from "../server/cluster.js";
import { type HttpCluster, startHttpCluster } from "../server/http-cluster.js";
import { waitFor } from "../support/wait-for.js";

const KEY = memberTokenKey("the cluster secret every member of this test holds");
const peerOf = (id: number) => `127.0.0.1:${7100 + id}`;

let cluster: HttpCluster;
let leader: Member;
let follower: Member;
let root: string;

beforeAll(async () => {
  cluster = await startHttpCluster({ auth: { bcryptCost: 4, memberTokenKey: KEY } });
  leader = await cluster.leader();
  follower = (await cluster.followers())[0]!;
  for (const m of cluster.members) {
    const attrs = {
      id: m.id,
      name: `n${m.id}`,
      peerUrls: [peerOf(m.id)],
      clientUrls: [cluster.urlOf(m.id)],
    };
    await leader.node.propose(encodeMemberAttributes(attrs));
  }
  await enableAuth(leader);
  root = await token(leader, "root", ROOT_PASSWORD);
});
afterAll(async () => {
  await cluster.stop();
});

describe("member/update with peerURLs", () => {
  it("moves a member's peer address in its attributes and in every address book", async () => {
    const moved = "127.0.0.1:7299";
    const r = await post(
      leader,
      "/v3/cluster/member/update",
      { ID: String(follower.id), peerURLs: [moved] },
      root,
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const listed = (r.body.members as { ID: string; name: string; peerURLs: string[] }[]).find(
      (m) => m.ID === String(follower.id),
    );
    expect(listed).toMatchObject({ name: `n${follower.id}`, peerURLs: [moved] });
    await waitFor(
      () => leader.node.status().peers.find((p) => p.id === follower.id)?.address === moved,
      "the leader to dial the new address",
    );
    // Still a voter, still replicating (the in-memory network routes by id).
    expect(leader.node.status().confState.voters).toContain(follower.id);
    const put = await post(leader, "/v3/kv/put", { key: "YQ==", value: "dg==" }, root);
    expect(put.status).toBe(200);

    const back = await post(
      leader,
      "/v3/cluster/member/update",
      { ID: String(follower.id), peerURLs: [peerOf(follower.id)] },
      root,
    );
    expect(back.status).toBe(200);
  });

  it("refuses an address another member has, and a malformed one", async () => {
    const other = cluster.members.find((m) => m !== follower && m !== leader)!;
    const taken = await post(
      leader,
      "/v3/cluster/member/update",
      { ID: String(follower.id), peerURLs: [peerOf(other.id)] },
      root,
    );
    expect(taken).toMatchObject({
      status: 409,
      body: {
        code: "MEMBER_EXISTS",
        message: `peer address ${peerOf(other.id)} is already member ${other.id}'s`,
      },
    });
    const malformed = await post(
      leader,
      "/v3/cluster/member/update",
      { ID: String(follower.id), peerURLs: ["http://nowhere"] },
      root,
    );
    expect(malformed).toMatchObject({ status: 400, body: { code: "INVALID_ARGUMENT" } });
    const added = await post(
      leader,
      "/v3/cluster/member/add",
      { peerURLs: [peerOf(other.id)] },
      root,
    );
    expect(added).toMatchObject({ status: 409, body: { code: "MEMBER_EXISTS" } });
  });

  it("is not a member credential's to make, even for itself", async () => {
    const credential = `Member ${await signMemberToken(follower.id, KEY, Date.now())}`;
    const r = await post(
      leader,
      "/v3/cluster/member/update",
      { ID: String(follower.id), peerURLs: ["127.0.0.1:7298"] },
      credential,
    );
    expect(r).toMatchObject({
      status: 403,
      body: {
        code: "PERMISSION_DENIED",
        message: expect.stringContaining("may not change its own peer address"),
      },
    });
    expect(leader.store.members.get(follower.id)?.peerUrls).toEqual([peerOf(follower.id)]);
  });
});
