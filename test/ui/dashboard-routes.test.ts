import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSse, type SseMessage } from "../../src/client/sse.js";
import {
  DEFAULT_CLUSTER_EVENT_LIMITS,
  registerClusterEventRoutes,
} from "../../src/server/cluster-events.js";
import type { HttpApiError } from "../../src/server/errors.js";
import { enableAuth, ROOT_PASSWORD, token } from "../server/auth-support.js";
import { type HttpCluster, startHttpCluster } from "../server/http-cluster.js";
import { startSingleMember } from "../server/single-member.js";

let cluster: HttpCluster;

beforeAll(async () => {
  cluster = await startHttpCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

/** Opens `GET /v3/cluster/events` over real HTTP; `next` reads the stream message by message. */
async function openEvents(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const res = await fetch(`${url}/v3/cluster/events`, { headers, signal: controller.signal });
  if (res.status !== 200 || res.body === null) {
    const json = (await res.json()) as { code: string };
    return {
      status: res.status,
      json,
      nextOf: async (): Promise<Record<string, unknown>> => {
        throw new Error(`no stream: ${res.status} ${json.code}`);
      },
      close() {},
    };
  }
  const messages = parseSse(res.body)[Symbol.asyncIterator]();
  return {
    status: res.status,
    json: undefined,
    /** The next message of `event`, skipping others; fails the test after 10 s. */
    async nextOf(event: string): Promise<Record<string, unknown>> {
      const deadline = AbortSignal.timeout(10_000);
      for (;;) {
        const r = await Promise.race([
          messages.next(),
          new Promise<never>((_, reject) =>
            deadline.addEventListener("abort", () => reject(new Error(`no ${event} event`))),
          ),
        ]);
        if (r.done) throw new Error("the stream ended");
        const m = r.value as SseMessage;
        if (m.event === event) return JSON.parse(m.data) as Record<string, unknown>;
      }
    },
    close: () => controller.abort(),
  };
}

describe("GET /v3/cluster/events", () => {
  it("streams this member's role, then a new leader and term when leadership moves", async () => {
    const leader = await cluster.leader();
    const follower = cluster.members.find((m) => m !== leader)!;
    const target = cluster.members.find((m) => m !== leader && m !== follower)!;
    const stream = await openEvents(cluster.urlOf(follower.id));
    try {
      expect(stream.status).toBe(200);
      const first = await stream.nextOf("role");
      expect(first).toMatchObject({ id: follower.id, role: "follower", leader: leader.id });
      const progress = await stream.nextOf("progress");
      expect(progress.commitIndex).toBeGreaterThan(0);

      const moved = await fetch(`${cluster.urlOf(leader.id)}/v3/maintenance/transfer-leadership`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ targetID: String(target.id) }),
      });
      expect(moved.status).toBe(200);
      // The stream reports every change it samples; the last word is the new leader.
      let event = await stream.nextOf("role");
      while (event.leader !== target.id) event = await stream.nextOf("role");
      expect(event.term as number).toBeGreaterThan(first.term as number);
    } finally {
      stream.close();
    }
  });

  it("reports progress as writes commit", async () => {
    const member = cluster.members[0]!;
    const stream = await openEvents(cluster.urlOf(member.id));
    try {
      await stream.nextOf("role");
      const before = await stream.nextOf("progress");
      const client = cluster.client();
      await client.put("ui/progress", "x");
      let after = await stream.nextOf("progress");
      while ((after.revision as number) <= (before.revision as number)) {
        after = await stream.nextOf("progress");
      }
      expect(after.commitIndex as number).toBeGreaterThan(before.commitIndex as number);
    } finally {
      stream.close();
    }
  });

  it("opens no stream for a HEAD request", async () => {
    const res = await fetch(`${cluster.urlOf(1)}/v3/cluster/events`, {
      method: "HEAD",
      signal: AbortSignal.timeout(5000),
    });
    expect(res.status).toBe(404);
  });

  it("refuses a query it does not know", async () => {
    const res = await fetch(`${cluster.urlOf(1)}/v3/cluster/events?since=3`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("INVALID_ARGUMENT");
  });
});

describe("POST /v3/cluster/progress", () => {
  it("answers the leader's view of every follower, from a follower too", async () => {
    const leader = await cluster.leader();
    const follower = cluster.members.find((m) => m !== leader)!;
    const res = await fetch(`${cluster.urlOf(follower.id)}/v3/cluster/progress`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      leader: number;
      peers: { id: number; connected: boolean }[];
    };
    expect(body.leader).toBe(leader.id);
    expect(body.peers.map((p) => p.id).sort()).toEqual(
      cluster.members.filter((m) => m !== leader).map((m) => m.id),
    );
    expect(body.peers.every((p) => typeof p.connected === "boolean")).toBe(true);
  });

  it("refuses a body with unknown fields", async () => {
    const r = await cluster.members[0]!.app.inject({
      method: "POST",
      url: "/v3/cluster/progress",
      payload: { peers: true },
    });
    expect(r.statusCode).toBe(400);
  });
});

describe("POST /v3/ring/lookup", () => {
  it("places every member on the ring and names each key's owner", async () => {
    const r = await cluster.members[0]!.app.inject({
      method: "POST",
      url: "/v3/ring/lookup",
      payload: { keys: ["orders/1", "orders/2"], points_per_member: 8 },
    });
    expect(r.statusCode).toBe(200);
    const body = r.json() as {
      members: { name: string; points: number[] }[];
      keys: { key: string; owner: string; position: number }[];
    };
    expect(body.members).toHaveLength(3);
    expect(body.members.every((m) => m.points.length === 8)).toBe(true);
    const names = body.members.map((m) => m.name);
    for (const k of body.keys) expect(names).toContain(k.owner);
    // The owner is the member with the first point clockwise from the key's position.
    for (const k of body.keys) {
      const points = body.members.flatMap((m) => m.points.map((p) => ({ p, name: m.name })));
      points.sort((a, b) => a.p - b.p);
      const next = points.find((x) => x.p >= k.position) ?? points[0]!;
      expect(k.owner).toBe(next.name);
    }
  });

  it.each([
    [{ keys: [1] }],
    [{ keys: [""] }],
    [{ points_per_member: 0 }],
    [{ points_per_member: 100_000 }],
    [{ keys: Array.from({ length: 65 }, (_, i) => `k${i}`) }],
    [{ other: true }],
  ])("refuses %j with a typed 400", async (payload) => {
    const r = await cluster.members[0]!.app.inject({
      method: "POST",
      url: "/v3/ring/lookup",
      payload,
    });
    expect(r.statusCode).toBe(400);
    expect((r.json() as { code: string }).code).toBe("INVALID_ARGUMENT");
  });
});

describe("the dashboard's files", () => {
  it("serves the page with a Content-Security-Policy that allows only its own scripts and its import map", async () => {
    const res = await fetch(`${cluster.urlOf(1)}/ui`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const page = await res.text();
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(page)?.[1];
    expect(importMap).toBeDefined();
    const hash = createHash("sha256").update(importMap!, "utf8").digest("base64");
    expect(csp).toContain(`script-src 'self' 'sha256-${hash}'`);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    // No other inline script: everything else loads from the member.
    expect(page.match(/<script/g)).toHaveLength(2);
    expect(page).toContain('<script type="module" src="/ui/app.js"></script>');
  });

  it.each([
    ["/ui/app.js", /^text\/javascript/],
    ["/ui/style.css", /^text\/css/],
    ["/ui/vendor/preact.js", /^text\/javascript/],
    ["/ui/vendor/hooks.js", /^text\/javascript/],
    ["/ui/vendor/htm.js", /^text\/javascript/],
    ["/ui/vendor/uplot.js", /^text\/javascript/],
    ["/ui/vendor/uplot.css", /^text\/css/],
  ])("serves %s", async (path, type) => {
    const res = await fetch(`${cluster.urlOf(1)}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(type);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect((await res.text()).length).toBeGreaterThan(100);
  });

  it.each([
    "/ui/..%2Fpackage.json",
    "/ui/%2e%2e%2f%2e%2e%2fpackage.json",
    "/ui/..%2F..%2Fsrc%2Fserver%2Fserver.ts",
    "/ui/vendor/..%2F..%2F..%2Fpackage.json",
    "/ui/vendor/%2e%2e%2fapp.js",
    "/ui/vendor/preact.module.js",
    "/ui/vendor/app.js",
    "/ui/.hidden.js",
    "/ui/app.js%00.html",
    "/ui/APP.JS",
    "/ui/../package.json",
    "/ui/vendor/../../package.json",
    "/ui/vendor/..\\..\\package.json",
  ])("refuses %s without reading outside the dashboard's files", async (url) => {
    const r = await cluster.members[0]!.app.inject({ method: "GET", url });
    expect([400, 404]).toContain(r.statusCode);
    expect(r.body).not.toContain('"name": "conclave"');
    expect(r.body).not.toContain("createServer");
    expect(typeof (r.json() as { code: string }).code).toBe("string");
  });
});

describe("with auth enabled", () => {
  let authed: HttpCluster;
  beforeAll(async () => {
    authed = await startHttpCluster({ auth: { bcryptCost: 4 } });
    await enableAuth(await authed.leader());
    // The tests ask any member, and each refuses tokenless requests once it applied the enable.
    await authed.caughtUp();
  });
  afterAll(async () => {
    await authed?.stop();
  });

  it("refuses the event stream, progress and ring lookup without a token", async () => {
    const url = authed.urlOf(1);
    const stream = await openEvents(url);
    expect(stream.status).toBe(401);
    expect(stream.json?.code).toBe("AUTH_REQUIRED");
    for (const path of ["/v3/cluster/progress", "/v3/ring/lookup"]) {
      const res = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      expect(res.status, path).toBe(401);
    }
  });

  it("streams to a signed-in user, and serves the page to anyone", async () => {
    const leader = await authed.leader();
    const reader = await token(leader, "reader", "reader-password");
    const stream = await openEvents(authed.urlOf(1), { authorization: reader });
    try {
      expect(stream.status).toBe(200);
      expect(await stream.nextOf("role")).toMatchObject({ id: 1 });
    } finally {
      stream.close();
    }
    expect((await fetch(`${authed.urlOf(1)}/ui`)).status).toBe(200);
    expect((await fetch(`${authed.urlOf(1)}/ui/vendor/preact.js`)).status).toBe(200);
    const root = await token(leader, "root", ROOT_PASSWORD);
    const progress = await fetch(`${authed.urlOf(leader.id)}/v3/cluster/progress`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: root },
      body: "{}",
    });
    expect(progress.status).toBe(200);
  });
});

describe("the event stream's bounds", () => {
  it("refuses streams over the limit with a typed 429, and ends open ones when the server closes", async () => {
    const member = await startSingleMember();
    const app = Fastify();
    app.setErrorHandler((err: HttpApiError, _req, reply) =>
      reply.status(err.statusCode).send({ code: err.code, message: err.message }),
    );
    registerClusterEventRoutes(app, { node: member.node, store: member.store } as never, {
      ...DEFAULT_CLUSTER_EVENT_LIMITS,
      maxStreams: 1,
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      const first = await openEvents(url);
      expect(await first.nextOf("role")).toMatchObject({ role: "leader" });
      const second = await openEvents(url);
      expect(second.status).toBe(429);
      expect(second.json?.code).toBe("TOO_MANY_EVENT_STREAMS");
      const closing = app.close();
      expect(await first.nextOf("end")).toMatchObject({ reason: expect.any(String) });
      await closing;
    } finally {
      await app.close();
      await member.stop();
    }
  });
});
