import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memberTokenKey, signMemberToken } from "../../src/auth/index.js";
import { encodeMemberAttributes } from "../../src/kv/index.js";
import { MemberPublisher } from "../../src/server/runtime/member-publisher.js";
import { enableAuth, post } from "./auth-support.js";
import { type Member, waitFor } from "./cluster.js";
import { type HttpCluster, startHttpCluster } from "./http-cluster.js";

const KEY = memberTokenKey("the cluster secret every member of this test holds");
let cluster: HttpCluster;
let leader: Member;
let follower: Member;
const publishers: MemberPublisher[] = [];

interface Line {
  readonly level: "info" | "warn";
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

function publisher(m: Member, clientUrl: string, key: Uint8Array | undefined, lines: Line[]) {
  const p = new MemberPublisher({
    node: m.node,
    store: m.store,
    self: { id: m.id, name: `n${m.id}`, peerUrls: [], clientUrls: [clientUrl] },
    founders: [],
    log: {
      info: (fields, message) => lines.push({ level: "info", fields, message }),
      warn: (fields, message) => lines.push({ level: "warn", fields, message }),
    },
    intervalMs: 20,
    timeoutMs: 2000,
    tls: {},
    ...(key !== undefined && { memberTokenKey: key }),
  });
  publishers.push(p);
  return p;
}

beforeAll(async () => {
  cluster = await startHttpCluster({ auth: { bcryptCost: 4, memberTokenKey: KEY } });
  leader = await cluster.leader();
  follower = (await cluster.followers())[0]!;
  // The log names every member's client URL, as founders' publishing would have.
  for (const m of cluster.members) {
    await leader.node.propose(
      encodeMemberAttributes({
        id: m.id,
        name: `n${m.id}`,
        peerUrls: [],
        clientUrls: [cluster.urlOf(m.id)],
      }),
    );
  }
  await enableAuth(leader);
  await cluster.caughtUp();
});
afterAll(async () => {
  for (const p of publishers) p.stop();
  await cluster.stop();
});

describe("a follower publishing its attributes while auth is enabled", () => {
  it("is refused without the member credential", async () => {
    const lines: Line[] = [];
    const p = publisher(follower, "http://127.0.0.1:1/without-key", undefined, lines);
    await waitFor(() => lines.some((l) => l.level === "warn"), "a refused publish");
    p.stop();
    expect(JSON.stringify(lines)).toContain("AUTH_REQUIRED");
    expect(follower.store.members.clientUrl(follower.id)).toBe(cluster.urlOf(follower.id));
  });

  it("succeeds with it, through the leader", async () => {
    const lines: Line[] = [];
    const url = "http://127.0.0.1:2/with-key";
    publisher(follower, url, KEY, lines);
    await waitFor(
      () => follower.store.members.clientUrl(follower.id) === url,
      "the follower's new client URL in its own store",
    );
    expect(lines.filter((l) => l.level === "warn")).toEqual([]);
  });

  it("may update only the member that signed it, and nothing else", async () => {
    const other = cluster.members.find((m) => m !== follower)!;
    const credential = `Member ${await signMemberToken(follower.id, KEY, Date.now())}`;
    const r = await post(
      leader,
      "/v3/cluster/member/update",
      { ID: String(other.id), clientURLs: ["http://127.0.0.1:3/"] },
      credential,
    );
    expect(r).toMatchObject({ status: 403, body: { code: "PERMISSION_DENIED" } });
    const list = await post(leader, "/v3/cluster/member/list", {}, credential);
    expect(list.status).toBe(403);
    const forged = `Member ${await signMemberToken(follower.id, new Uint8Array(32), Date.now())}`;
    const bad = await post(
      leader,
      "/v3/cluster/member/update",
      { ID: String(follower.id) },
      forged,
    );
    expect(bad).toMatchObject({ status: 401, body: { code: "INVALID_AUTH_TOKEN" } });
  });
});
