/** createServiceFetch against real local HTTP servers. */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBalancer } from "../../../src/registry/balancers/index.js";
import { NoInstanceError, type ServiceSnapshot } from "../../../src/registry/index.js";
import { createServiceFetch, ServiceRequestError } from "../../../src/registry/service-fetch.js";
import { freePort } from "../../support/free-port.js";
import { instance, SnapshotQueue } from "./helpers.js";

type Behaviour = "ok" | "drop" | "unavailable" | "hang";

interface TestServer {
  readonly name: string;
  readonly port: number;
  readonly server: http.Server;
  readonly seen: string[];
  behaviour: Behaviour;
}

async function startServer(name: string, behaviour: Behaviour = "ok"): Promise<TestServer> {
  const port = await freePort();
  const seen: string[] = [];
  const state: TestServer = { name, port, server: http.createServer(), seen, behaviour };
  state.server.on("request", (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      seen.push(`${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`.trimEnd());
      switch (state.behaviour) {
        case "ok":
          res.end(`${name} ${req.method} ${req.url}`);
          return;
        case "unavailable":
          res.writeHead(503).end(`${name} unavailable`);
          return;
        case "drop":
          // The request arrived; the connection dies before any answer.
          req.socket.destroy();
          return;
        case "hang":
          return;
      }
    });
  });
  await new Promise<void>((resolve) => state.server.listen(port, "127.0.0.1", resolve));
  return state;
}

async function stopServer(server: TestServer): Promise<void> {
  server.server.closeAllConnections();
  await new Promise<void>((resolve) => server.server.close(() => resolve()));
}

const asInstance = (s: TestServer) => instance(s.name, { port: s.port });

describe("createServiceFetch", () => {
  let servers: TestServer[];
  let alpha: TestServer;
  let beta: TestServer;
  let gamma: TestServer;

  beforeAll(async () => {
    servers = await Promise.all(["alpha", "beta", "gamma"].map((n) => startServer(n)));
    [alpha, beta, gamma] = servers as [TestServer, TestServer, TestServer];
  });

  afterAll(async () => {
    await Promise.all(servers.filter((s) => s.server.listening).map(stopServer));
  });

  const reset = (behaviours: Behaviour[]) => {
    servers.forEach((s, i) => {
      s.behaviour = behaviours[i]!;
      s.seen.length = 0;
    });
  };

  it("follows snapshots, and keeps succeeding when one of three instances is closed", async () => {
    reset(["ok", "ok", "ok"]);
    const snapshots = new SnapshotQueue<ServiceSnapshot>();
    await using api = createServiceFetch({
      snapshots,
      kind: "round-robin",
      retries: 2,
      timeoutMs: 10_000,
    });
    snapshots.push({ service: "api", revision: 1, instances: servers.map(asInstance) });
    await api.ready();
    const first = await Promise.all([1, 2, 3].map((i) => api(`/hello/${i}`).then((r) => r.text())));
    expect(first.map((body) => body.split(" ")[0]).sort()).toEqual(["alpha", "beta", "gamma"]);

    // beta goes away without the registry knowing yet: nothing listens on its port.
    await stopServer(beta);
    try {
      reset(["ok", "ok", "ok"]);
      const answers: string[] = [];
      for (let i = 0; i < 12; i++) {
        const method = i % 2 === 0 ? "GET" : "POST";
        const response = await api(`/item/${i}`, { method, body: method === "POST" ? "x" : null });
        expect(response.status).toBe(200);
        answers.push((await response.text()).split(" ")[0]!);
      }
      expect(new Set(answers)).toEqual(new Set(["alpha", "gamma"]));
      // A refused connection sent nothing, so even the POSTs moved on; none was sent twice.
      expect(alpha.seen.length + gamma.seen.length).toBe(12);
    } finally {
      beta = await startServer("beta");
      servers[1] = beta;
    }
  });

  it("does not resend a POST that reached a server; resends a GET, or a POST marked idempotent", async () => {
    reset(["drop", "ok", "ok"]);
    const balancer = createBalancer("round-robin", { instances: servers.map(asInstance) });
    const api = createServiceFetch({ balancer, retries: 2 });

    const failure = await api("/orders", { method: "POST", body: "order-1" }).catch((e) => e);
    expect(failure).toBeInstanceOf(ServiceRequestError);
    expect((failure as ServiceRequestError).code).toBe("REGISTRY_REQUEST_FAILED");
    expect((failure as ServiceRequestError).attempts.map((a) => a.instanceId)).toEqual(["alpha"]);
    expect((failure as Error).message).toMatch(/POST request may have reached the server/);
    expect(alpha.seen).toEqual(["POST /orders order-1"]);
    expect(beta.seen).toEqual([]);
    expect(gamma.seen).toEqual([]);

    reset(["drop", "ok", "ok"]);
    const safe = createServiceFetch({
      balancer: createBalancer("round-robin", { instances: servers.map(asInstance) }),
    });
    const got = await safe("/orders/1");
    expect(await got.text()).toBe("beta GET /orders/1");
    expect(alpha.seen).toEqual(["GET /orders/1"]);

    reset(["drop", "ok", "ok"]);
    const marked = createServiceFetch({
      balancer: createBalancer("round-robin", { instances: servers.map(asInstance) }),
    });
    const posted = await marked("/orders", { method: "POST", body: "order-2", idempotent: true });
    expect(await posted.text()).toBe("beta POST /orders");
    expect(alpha.seen).toEqual(["POST /orders order-2"]);
    expect(beta.seen).toEqual(["POST /orders order-2"]);
  });

  it("retries 502/503 for idempotent requests only, and returns the last answer when all fail", async () => {
    reset(["unavailable", "ok", "ok"]);
    const fresh = () =>
      createServiceFetch({
        balancer: createBalancer("round-robin", { instances: servers.map(asInstance) }),
      });
    const got = await fresh()("/x");
    expect(got.status).toBe(200);
    expect(await got.text()).toBe("beta GET /x");

    reset(["unavailable", "ok", "ok"]);
    const posted = await fresh()("/x", { method: "POST", body: "p" });
    expect(posted.status).toBe(503);
    expect(beta.seen).toEqual([]);

    reset(["unavailable", "unavailable", "unavailable"]);
    const all = await fresh()("/x");
    expect(all.status).toBe(503);
    expect(await all.text()).toBe("gamma unavailable");
    expect(servers.map((s) => s.seen.length)).toEqual([1, 1, 1]);
  });

  it("stops after `retries` further instances", async () => {
    reset(["drop", "drop", "ok"]);
    const api = createServiceFetch({
      balancer: createBalancer("round-robin", { instances: servers.map(asInstance) }),
      retries: 1,
    });
    const failure = (await api("/y").catch((e) => e)) as ServiceRequestError;
    expect(failure).toBeInstanceOf(ServiceRequestError);
    expect(failure.attempts.map((a) => a.instanceId)).toEqual(["alpha", "beta"]);
    expect(gamma.seen).toEqual([]);
  });

  it("gives up on an instance that does not answer within timeoutMs and tries the next", async () => {
    reset(["hang", "ok", "ok"]);
    const api = createServiceFetch({
      balancer: createBalancer("round-robin", { instances: servers.map(asInstance) }),
      timeoutMs: 300,
    });
    const got = await api("/slow");
    expect(await got.text()).toBe("beta GET /slow");
    alpha.server.closeAllConnections();
  });

  it("sends equal hash keys to the same instance", async () => {
    reset(["ok", "ok", "ok"]);
    const api = createServiceFetch({
      balancer: createBalancer("ring", { instances: servers.map(asInstance) }),
    });
    for (const key of ["user-1", "user-2", "user-3"]) {
      const owners = new Set<string>();
      for (let i = 0; i < 4; i++) {
        owners.add((await (await api("/k", { hashKey: key })).text()).split(" ")[0]!);
      }
      expect(owners.size).toBe(1);
    }
  });

  it("raises NoInstanceError when the set is empty", async () => {
    const api = createServiceFetch({ balancer: createBalancer("p2c", { service: "api" }) });
    await expect(api("/z")).rejects.toBeInstanceOf(NoInstanceError);

    const snapshots = new SnapshotQueue<ServiceSnapshot>();
    await using followed = createServiceFetch({ snapshots });
    snapshots.push({
      service: "api",
      revision: 3,
      instances: [instance("down", { status: "critical", port: alpha.port })],
    });
    const error = (await followed("/z").catch((e) => e)) as NoInstanceError;
    expect(error).toBeInstanceOf(NoInstanceError);
    expect(error.service).toBe("api");
  });

  it("a stream failing before its first snapshot fails requests; after it, requests go on", async () => {
    const broken: AsyncIterable<ServiceSnapshot> = {
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error("watch broke")) }),
    };
    const early = createServiceFetch({ snapshots: broken });
    await expect(early("/a")).rejects.toThrow("watch broke");

    reset(["ok", "ok", "ok"]);
    let sent = false;
    const late: AsyncIterable<ServiceSnapshot> = {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          if (sent) return Promise.reject(new Error("watch broke later"));
          sent = true;
          const snapshot = { service: "api", revision: 1, instances: [asInstance(gamma)] };
          return Promise.resolve({ value: snapshot, done: false });
        },
      }),
    };
    const errors: unknown[] = [];
    const api = createServiceFetch({ snapshots: late, onStreamError: (e) => errors.push(e) });
    await expect.poll(() => errors.length).toBe(1);
    expect(await (await api("/b")).text()).toBe("gamma GET /b");
  });

  it("rejects bad options and paths", async () => {
    const balancer = createBalancer("p2c");
    expect(() => createServiceFetch({})).toThrow(/exactly one of snapshots and balancer/);
    expect(() => createServiceFetch({ balancer, retries: -1 })).toThrow(/retries/);
    expect(() => createServiceFetch({ balancer, timeoutMs: 0 })).toThrow(/timeoutMs/);
    await expect(createServiceFetch({ balancer })("no-slash")).rejects.toThrow(/path must start/);
  });
});
