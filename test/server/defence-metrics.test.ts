import { once } from "node:events";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { capturedLog } from "../support/captured-log.js";
import { enableAuth, post, token } from "./auth-support.js";
import { b64, startCluster, type TestCluster } from "./cluster.js";
import { sampleValue, scrapeMetrics, waitForSample } from "./metric-sample.js";
import { type ListeningMember, startListeningMember } from "./single-member.js";

let member: ListeningMember | undefined;
let cluster: TestCluster | undefined;
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await member?.stop();
  member = undefined;
  await cluster?.stop();
  cluster = undefined;
});

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: "127.0.0.1" });
  sockets.push(socket);
  socket.on("error", () => {});
  await once(socket, "connect");
  return socket;
}

function closed(socket: net.Socket): Promise<void> {
  return socket.destroyed ? Promise.resolve() : once(socket, "close").then(() => undefined);
}

const REFUSED = "conclave_client_connections_refused_total";
const OPEN = "conclave_client_connections_open";

describe("client connection metrics", () => {
  it("count a refusal at the host cap and show the connections open", async () => {
    member = await startListeningMember({
      clientConnections: { maxConnections: 8, maxConnectionsPerHost: 2 },
    });
    const before = await scrapeMetrics(member.app);
    expect(sampleValue(before, REFUSED, { reason: "host_cap" })).toBe(0);
    expect(sampleValue(before, REFUSED, { reason: "member_cap" })).toBe(0);
    expect(sampleValue(before, OPEN)).toBe(0);

    await connect(member.port);
    await connect(member.port);
    await waitForSample(member.app, OPEN, {}, (v) => v === 2);
    await closed(await connect(member.port));
    await waitForSample(member.app, REFUSED, { reason: "host_cap" }, (v) => v === 1);
    const after = await scrapeMetrics(member.app);
    expect(sampleValue(after, REFUSED, { reason: "member_cap" })).toBe(0);
    expect(sampleValue(after, OPEN)).toBe(2);

    for (const s of sockets.splice(0)) s.destroy();
    await waitForSample(member.app, OPEN, {}, (v) => v === 0);
  });

  it("count a refusal at the member cap under its own reason", async () => {
    member = await startListeningMember({
      clientConnections: { maxConnections: 1, maxConnectionsPerHost: 1 },
    });
    await connect(member.port);
    await waitForSample(member.app, OPEN, {}, (v) => v === 1);
    await closed(await connect(member.port));
    await waitForSample(member.app, REFUSED, { reason: "member_cap" }, (v) => v === 1);
    expect(sampleValue(await scrapeMetrics(member.app), REFUSED, { reason: "host_cap" })).toBe(0);
  });
});

const AUTH = "conclave_auth_refusals_total";

describe("auth refusal metrics", () => {
  it("count each kind of refused request by its code", async () => {
    cluster = await startCluster({ auth: { bcryptCost: 4 } });
    const leader = await cluster.leader();
    await enableAuth(leader);
    const range = { key: b64("a/1") };
    expect((await post(leader, "/v3/kv/range", range)).status).toBe(401);
    expect((await post(leader, "/v3/kv/range", range, "forged")).status).toBe(401);
    expect((await post(leader, "/v3/kv/range", range, "forged")).status).toBe(401);
    const wrong = { name: "reader", password: "not-the-password" };
    expect((await post(leader, "/v3/auth/authenticate", wrong)).status).toBe(401);
    const reader = await token(leader, "reader", "reader-password");
    const put = { key: b64("a/1"), value: b64("v") };
    expect((await post(leader, "/v3/kv/put", put, reader)).status).toBe(403);
    // Allowed requests count nothing.
    expect((await post(leader, "/v3/kv/range", range, reader)).status).toBe(200);

    const text = await scrapeMetrics(leader.app);
    expect(sampleValue(text, AUTH, { code: "AUTH_REQUIRED" })).toBe(1);
    expect(sampleValue(text, AUTH, { code: "INVALID_AUTH_TOKEN" })).toBe(2);
    expect(sampleValue(text, AUTH, { code: "AUTH_FAILED" })).toBe(1);
    expect(sampleValue(text, AUTH, { code: "PERMISSION_DENIED" })).toBe(1);
  });
});

const MEMBERSHIP = "conclave_membership_changes_refused_total";

describe("membership refusals", () => {
  it("are counted by code and logged once per code per interval with their numbers", async () => {
    const { logger, lines } = capturedLog();
    cluster = await startCluster({ loggerInstance: logger });
    const leader = await cluster.leader();
    // An unreachable learner fills the one learner slot.
    const added = await post(leader, "/v3/cluster/member/add", { peerURLs: ["127.0.0.1:1"] });
    expect(added.status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const r = await post(leader, "/v3/cluster/member/add", { peerURLs: [`127.0.0.1:${2 + i}`] });
      expect(r.body.code).toBe("TOO_MANY_LEARNERS");
    }
    const promoted = await post(leader, "/v3/cluster/member/promote", { ID: added.body.member.ID });
    expect(promoted.body.code).toBe("LEARNER_NOT_READY");

    const text = await scrapeMetrics(leader.app);
    expect(sampleValue(text, MEMBERSHIP, { code: "TOO_MANY_LEARNERS" })).toBe(3);
    expect(sampleValue(text, MEMBERSHIP, { code: "LEARNER_NOT_READY" })).toBe(1);
    expect(sampleValue(text, MEMBERSHIP, { code: "UNSAFE_RECONFIGURATION" })).toBe(0);

    const refused = lines.filter((l) => l["msg"] === "refused a membership change");
    expect(refused.map((l) => l["code"]).sort()).toEqual([
      "LEARNER_NOT_READY",
      "TOO_MANY_LEARNERS",
    ]);
    const learners = refused.find((l) => l["code"] === "TOO_MANY_LEARNERS");
    expect(learners).toMatchObject({ learners: 1, maxLearners: 1, level: 40 });
    const notReady = refused.find((l) => l["code"] === "LEARNER_NOT_READY");
    expect(notReady).toMatchObject({ matchIndex: 0, requiredIndex: expect.any(Number) });
  });
});
