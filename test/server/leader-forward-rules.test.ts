import type { FastifyRequest } from "fastify";
import { describe, expect, it } from "vitest";
import { NotLeaderError, Role } from "../../src/raft/core/index.js";
import type { LeaderAnswer, LeaderRequest } from "../../src/server/leader-client.js";
import {
  type ForwardOutcome,
  LeaderForwarder,
  resolveMaxLeaderForwards,
  TooManyForwardsError,
} from "../../src/server/leader-forward.js";

/** A node whose role and term a test sets, a leader URL per id, and a leader that answers on cue. */
function rig(maxInFlight: number) {
  const status = { role: Role.Follower as Role, term: 5, leader: 1 };
  const sent: LeaderRequest[] = [];
  const answers: ((a: LeaderAnswer) => void)[] = [];
  const outcomes: ForwardOutcome[] = [];
  const forwarder = new LeaderForwarder({
    node: { basicStatus: () => status as never },
    leaderUrls: { get: (id) => (id === 1 ? "http://leader.invalid" : undefined) },
    client: {
      send: (r) => {
        sent.push(r);
        return new Promise((resolve) => answers.push(resolve));
      },
    },
    signer: { selfId: 2, memberTokenKey: undefined, nowMs: Date.now },
    timeoutMs: 1000,
    maxInFlight,
    onOutcome: (o) => outcomes.push(o),
  });
  const request = (headers: Record<string, string> = {}) => {
    const req = {
      headers,
      method: "POST",
      url: "/v3/kv/put",
      body: { key: "aw==" },
    } as unknown as FastifyRequest;
    forwarder.noteArrival(req);
    return req;
  };
  const answer = { status: 200, contentType: "application/json", body: Buffer.from("{}") };
  return { status, sent, answers, outcomes, forwarder, request, answer };
}

describe("which failures a follower forwards", () => {
  it("forwards NOT_LEADER with the request's method, path, body and idempotency key", async () => {
    const r = rig(4);
    const req = r.request({ "idempotency-key": "k1", "x-other": "dropped" });
    const pending = r.forwarder.tryForward(new NotLeaderError(1), req);
    await expect.poll(() => r.sent.length).toBe(1);
    expect(r.sent[0]).toMatchObject({
      baseUrl: "http://leader.invalid",
      method: "POST",
      path: "/v3/kv/put",
      body: '{"key":"aw=="}',
      headers: { "idempotency-key": "k1", "conclave-forwarded-by": "2" },
    });
    expect(r.sent[0]!.headers["x-other"]).toBeUndefined();
    r.answers[0]!(r.answer);
    expect(await pending).toEqual({ ...r.answer, leaderUrl: "http://leader.invalid" });
    expect(r.outcomes).toEqual(["relayed"]);
  });

  it("keeps other errors, a request that arrived on the leader, or after a new term", async () => {
    const r = rig(4);
    expect(await r.forwarder.tryForward(new Error("other"), r.request())).toBeUndefined();
    // The term moved on while the request was handled: this member may have led in between.
    const late = r.request();
    r.status.term = 6;
    expect(await r.forwarder.tryForward(new NotLeaderError(1), late)).toBeUndefined();
    r.status.role = Role.Leader;
    const onLeader = r.request();
    r.status.role = Role.Follower;
    expect(await r.forwarder.tryForward(new NotLeaderError(1), onLeader)).toBeUndefined();
    // No leader known, or no URL for it: NOT_LEADER is the answer.
    expect(await r.forwarder.tryForward(new NotLeaderError(0), r.request())).toBeUndefined();
    expect(await r.forwarder.tryForward(new NotLeaderError(3), r.request())).toBeUndefined();
    // Already forwarded once.
    const forwarded = r.request({ "conclave-forwarded-by": "3" });
    expect(await r.forwarder.tryForward(new NotLeaderError(1), forwarded)).toBeUndefined();
    expect(r.sent).toEqual([]);
    expect(r.outcomes).toEqual(["no_leader_url"]);
  });

  it("refuses forwards beyond its limit with 503 TOO_MANY_FORWARDS", async () => {
    const r = rig(2);
    const first = r.forwarder.tryForward(new NotLeaderError(1), r.request());
    const second = r.forwarder.tryForward(new NotLeaderError(1), r.request());
    await expect.poll(() => r.sent.length).toBe(2);
    const refused = r.forwarder.tryForward(new NotLeaderError(1), r.request());
    await expect(refused).rejects.toBeInstanceOf(TooManyForwardsError);
    await expect(refused).rejects.toMatchObject({ statusCode: 503, code: "TOO_MANY_FORWARDS" });
    for (const answer of r.answers) answer(r.answer);
    await Promise.all([first, second]);
    expect(r.forwarder.inFlight).toBe(0);
    // A slot is free again.
    const third = r.forwarder.tryForward(new NotLeaderError(1), r.request());
    await expect.poll(() => r.sent.length).toBe(3);
    r.answers[2]!(r.answer);
    expect(await third).toEqual({ ...r.answer, leaderUrl: "http://leader.invalid" });
    expect(r.outcomes).toEqual(["busy", "relayed", "relayed", "relayed"]);
  });

  it("turns off with a limit of 0 and checks the option", async () => {
    const r = rig(0);
    expect(await r.forwarder.tryForward(new NotLeaderError(1), r.request())).toBeUndefined();
    expect(resolveMaxLeaderForwards(undefined)).toBe(1024);
    expect(() => resolveMaxLeaderForwards(-1)).toThrow(/maxLeaderForwards/);
    expect(() => resolveMaxLeaderForwards(1.5)).toThrow(/maxLeaderForwards/);
  });
});
