import { describe, expect, it } from "vitest";
import { backoffDelayMs } from "../../src/client/backoff.js";
import {
  AbortedError,
  type AttemptFailure,
  BadResponseError,
  ClientError,
  DeadlineExceededError,
  mayRetry,
  NotLeaderError,
  OutcomeUnknownError,
  seededRandom,
} from "../../src/client/index.js";
import { freePort } from "../support/free-port.js";
import { drop, fakeCluster, hang, json, ok } from "./fake-server.js";

const { serve, clientOf } = fakeCluster(1);
const deadPort = async () => `http://127.0.0.1:${await freePort()}`;

describe("mayRetry", () => {
  const answered = (status: number, code: string): AttemptFailure => ({
    kind: "answered",
    status,
    code,
  });
  const cases: [AttemptFailure, read: boolean, write: boolean][] = [
    [{ kind: "not-sent" }, true, true],
    [{ kind: "lost" }, true, false],
    [answered(421, "NOT_LEADER"), true, true],
    [answered(503, "NOT_READY"), true, true],
    [answered(503, "PROPOSAL_DROPPED"), true, true],
    [answered(503, "TOO_MANY_UNCOMMITTED"), true, true],
    [answered(503, "NODE_STOPPED"), true, false],
    [answered(504, "TIMEOUT"), true, false],
    [answered(400, "INVALID_ARGUMENT"), false, false],
    [answered(404, "KV_LEASE_NOT_FOUND"), false, false],
    [answered(500, "INTERNAL"), false, false],
  ];
  it.each(cases)("%j: read %s, write %s", (failure, read, write) => {
    expect(mayRetry("read", failure)).toBe(read);
    expect(mayRetry("idempotent", failure)).toBe(read);
    // Key-space writes carry an idempotency key the server dedupes: the read rule.
    expect(mayRetry("keyed-write", failure)).toBe(read);
    expect(mayRetry("write", failure)).toBe(write);
  });

  it("backs off with seeded full jitter under a growing cap", () => {
    const random = seededRandom(42);
    const delays = Array.from({ length: 12 }, (_, i) => backoffDelayMs(i, random));
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(Math.min(1000, 25 * 2 ** i));
    });
    const again = seededRandom(42);
    expect(Array.from({ length: 12 }, (_, i) => backoffDelayMs(i, again))).toEqual(delays);
  });
});

describe("retries, redirects and deadlines", () => {
  it("sends a write to the next endpoint when the first refuses the connection", async () => {
    const s = await serve(ok);
    const c = clientOf([await deadPort(), s.url]);
    expect((await c.put("k", "v")).revision).toBe(5);
    expect(c.preferredEndpoint).toBe(s.url);
  });

  it("repeats a write the node dropped before proposing, with the same idempotency key", async () => {
    const s = await serve(json(503, { code: "PROPOSAL_DROPPED", message: "x" }), ok);
    const c = clientOf([s.url]);
    await c.put("k", "v");
    expect(s.seen).toHaveLength(2);
    const [a, b] = s.seen.map((r) => r.headers["idempotency-key"]);
    expect(a).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(b).toBe(a);
    // The next logical write gets a new key.
    await c.put("k", "w");
    expect(s.seen[2]!.headers["idempotency-key"]).not.toBe(a);
    // Reads carry none.
    await c.leases().catch(() => undefined);
    expect(s.seen[3]!.headers["idempotency-key"]).toBeUndefined();
  });

  it("repeats a key-space write whose outcome is unknown under the same key; not a membership change", async () => {
    const s = await serve(json(503, { code: "NODE_STOPPED", message: "stopped" }), ok);
    await clientOf([s.url]).put("k", "v");
    expect(s.seen).toHaveLength(2);
    expect(s.seen[1]!.headers["idempotency-key"]).toBe(s.seen[0]!.headers["idempotency-key"]);
    const m = await serve(json(503, { code: "NODE_STOPPED", message: "stopped" }), ok);
    const error = await clientOf([m.url])
      .memberRemove(2)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect(error).toMatchObject({ code: "NODE_STOPPED", status: 503 });
    expect(m.seen).toHaveLength(1);
  });

  it("repeats a put whose answer was lost; reports a lost membership change as OutcomeUnknownError", async () => {
    const s = await serve(drop, ok);
    expect((await clientOf([s.url]).put("k", "v")).revision).toBe(5);
    expect(s.seen).toHaveLength(2);
    expect(s.seen[1]!.headers["idempotency-key"]).toBe(s.seen[0]!.headers["idempotency-key"]);
    const m = await serve(drop, ok);
    const error = await clientOf([m.url])
      .memberRemove(2)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect(m.seen).toHaveLength(1);
    const r = await serve(drop, json(200, { header: { revision: "3" }, leases: [] }));
    expect((await clientOf([r.url]).leases()).revision).toBe(3);
    expect(r.seen).toHaveLength(2);
  });

  it("follows leaderUrl from a NOT_LEADER answer at once", async () => {
    const leader = await serve(ok);
    const follower = await serve(
      json(421, { code: "NOT_LEADER", message: "no", leader: 2, leaderUrl: leader.url }),
    );
    const c = clientOf([follower.url]);
    await c.put("k", "v");
    expect(c.preferredEndpoint).toBe(leader.url);
    const askedFollower = follower.seen.length;
    await c.put("k", "w");
    expect(follower.seen).toHaveLength(askedFollower);
    expect(leader.seen).toHaveLength(2);
  });

  it("gives up with NotLeaderError when no endpoint takes a leader-only call before the deadline", async () => {
    const notLeader = json(421, { code: "NOT_LEADER", message: "no", leader: null });
    const a = await serve(notLeader);
    const b = await serve(notLeader);
    const c = clientOf([a.url, b.url], { timeoutMs: 300 });
    const error = await c.leaseTimeToLive(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotLeaderError);
    expect((error as NotLeaderError).leader).toBeUndefined();
    expect(a.seen.length + b.seen.length).toBeGreaterThan(2);
  });

  it("ends a call at its deadline, or when its signal aborts", async () => {
    const s = await serve(hang);
    const c = clientOf([s.url]);
    expect(await c.get("k", { timeoutMs: 100 }).catch((e: unknown) => e)).toBeInstanceOf(
      DeadlineExceededError,
    );
    const controller = new AbortController();
    const pending = c.get("k", { signal: controller.signal }).catch((e: unknown) => e);
    await (async () => {
      while (s.seen.length < 2) await new Promise((r) => setTimeout(r, 5));
    })();
    controller.abort();
    expect(await pending).toBeInstanceOf(AbortedError);
  });

  it("rejects an answer that is not the API's shape", async () => {
    const s = await serve(
      (res) => res.end("not json"),
      json(200, { header: { revision: "12" }, kvs: "none" }),
    );
    const c = clientOf([s.url]);
    expect(await c.get("k").catch((e: unknown) => e)).toBeInstanceOf(BadResponseError);
    expect(await c.get("k").catch((e: unknown) => e)).toBeInstanceOf(BadResponseError);
  });

  it("throws CLIENT_CLOSED after close", async () => {
    const c = clientOf([await deadPort()]);
    await c.close();
    expect(await c.get("k").catch((e: unknown) => e)).toMatchObject({ code: "CLIENT_CLOSED" });
  });
});

describe("cluster and maintenance calls (contract shapes)", () => {
  it("parses member list, member add and status answers", async () => {
    const members = [
      {
        ID: "1",
        name: "n1",
        peerURLs: ["127.0.0.1:7101"],
        clientURLs: ["http://a"],
        isLearner: false,
      },
      { ID: "4", name: "", peerURLs: ["127.0.0.1:7104"], clientURLs: [], isLearner: true },
    ];
    const s = await serve(
      json(200, { header: { revision: "9" }, members }),
      json(200, { header: { revision: "9" }, member: members[1], members }),
      json(200, {
        header: { revision: "9" },
        version: "0.1.0",
        memberID: "1",
        leader: "1",
        raftTerm: "3",
        raftIndex: "40",
        raftAppliedIndex: "40",
        isLearner: false,
        revision: "9",
        compactRevision: "2",
        keyCount: "7",
      }),
    );
    const c = clientOf([s.url]);
    const list = await c.memberList();
    expect(list.members.map((m) => [m.id, m.isLearner])).toEqual([
      [1, false],
      [4, true],
    ]);
    const added = await c.memberAdd(["127.0.0.1:7104"], { isLearner: true });
    expect(added.member.id).toBe(4);
    expect(s.seen[1]!.body).toEqual({ peerURLs: ["127.0.0.1:7104"], isLearner: true });
    expect(s.seen[1]!.headers["idempotency-key"]).toBeDefined();
    const status = await c.status(s.url);
    expect(status).toMatchObject({
      memberId: 1,
      leader: 1,
      raftTerm: 3,
      keyCount: 7,
      compactRevision: 2,
    });
    expect(s.seen.map((r) => r.url)).toEqual([
      "/v3/cluster/member/list",
      "/v3/cluster/member/add",
      "/v3/maintenance/status",
    ]);
  });
});
