import http from "node:http";
import net from "node:net";
import {
  status as grpcStatus,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { InvalidArgumentError } from "../../../src/errors.js";
import {
  type HealthCheckRequest,
  type HealthCheckResponse,
  healthService,
  type ServingStatus,
} from "../../../src/registry/checks/health-proto.js";
import { runCheck } from "../../../src/registry/checks/probe.js";
import { freePort } from "../../support/free-port.js";
import { waitFor } from "../../support/wait-for.js";

/** A port nothing listens on: taken from the free pool and never bound. */
async function closedPort(): Promise<number> {
  return freePort();
}

describe("HTTP check", () => {
  let server: http.Server;
  let port: number;
  let bigBodyBytesSent = 0;
  let bigBodyClosed = false;
  const hanging = new Set<http.ServerResponse>();

  beforeAll(async () => {
    port = await freePort();
    server = http.createServer((req, res) => {
      switch (req.url) {
        case "/ok":
          res.end("all good");
          return;
        case "/no-content":
          res.statusCode = 204;
          res.end();
          return;
        case "/busy":
          res.statusCode = 429;
          res.end("slow down");
          return;
        case "/down":
          res.statusCode = 503;
          res.end("maintenance");
          return;
        case "/redirect-same":
          res.statusCode = 302;
          res.setHeader("location", "/ok");
          res.end();
          return;
        case "/redirect-loop":
          res.statusCode = 302;
          res.setHeader("location", "/redirect-loop");
          res.end();
          return;
        case "/redirect-other":
          // 127.0.0.2 is another host to the check, though the same machine to this test.
          res.statusCode = 302;
          res.setHeader("location", `http://127.0.0.2:${port}/ok`);
          res.end();
          return;
        case "/hang":
          hanging.add(res);
          return;
        case "/big": {
          // An endless body: the check must read a bounded prefix and hang up.
          res.writeHead(200, { "content-type": "text/plain" });
          const chunk = Buffer.alloc(64 * 1024, "x");
          const pump = () => {
            while (!res.destroyed && res.write(chunk)) bigBodyBytesSent += chunk.length;
          };
          res.on("drain", pump);
          res.on("close", () => {
            bigBodyClosed = true;
          });
          pump();
          return;
        }
        default:
          res.statusCode = 404;
          res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  });

  afterAll(async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const url = (path: string) => `http://127.0.0.1:${port}${path}`;
  const check = (path: string, timeoutMs = 2000) =>
    runCheck({ kind: "http", url: url(path), timeoutMs });

  it("passes on 2xx", async () => {
    expect(await check("/ok")).toEqual({ status: "passing", output: "HTTP 200: all good" });
    expect((await check("/no-content")).status).toBe("passing");
  });

  it("warns on 429 and is critical on other answers", async () => {
    expect(await check("/busy")).toEqual({ status: "warning", output: "HTTP 429: slow down" });
    expect(await check("/down")).toEqual({ status: "critical", output: "HTTP 503: maintenance" });
    expect((await check("/missing")).status).toBe("critical");
  });

  it("follows redirects on the same host only, and not forever", async () => {
    expect((await check("/redirect-same")).status).toBe("passing");
    const other = await check("/redirect-other");
    expect(other.status).toBe("critical");
    expect(other.output).toContain("another host");
    const loop = await check("/redirect-loop");
    expect(loop.status).toBe("critical");
    expect(loop.output).toContain("redirects");
  });

  it("is critical when the server does not answer in time", async () => {
    const result = await check("/hang", 150);
    expect(result.status).toBe("critical");
    expect(result.output).toContain("did not finish within 150 ms");
  });

  it("is critical when nothing listens", async () => {
    const result = await runCheck({
      kind: "http",
      url: `http://127.0.0.1:${await closedPort()}/`,
    });
    expect(result.status).toBe("critical");
    expect(result.output).toMatch(/ECONNREFUSED|fetch failed/);
  });

  it("reads a bounded prefix of a large body and hangs up", async () => {
    const result = await check("/big");
    expect(result.status).toBe("passing");
    // The output holds at most the prefix read, not the body.
    expect(result.output.length).toBeLessThanOrEqual(300);
    await waitFor(() => bigBodyClosed, "the endless body's connection to close");
    // The server was never able to push much before the check hung up: its buffers fill first.
    expect(bigBodyBytesSent).toBeLessThan(64 * 1024 * 1024);
  });
});

describe("TCP check", () => {
  it("passes when a connection opens, and closes it at once", async () => {
    let closed = 0;
    const server = net.createServer((socket) => {
      socket.on("close", () => {
        closed += 1;
      });
      socket.on("error", () => {});
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    try {
      const result = await runCheck({ kind: "tcp", host: "127.0.0.1", port });
      expect(result.status).toBe("passing");
      await waitFor(() => closed === 1, "the checked connection to close");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("is critical when nothing listens", async () => {
    const result = await runCheck({ kind: "tcp", host: "127.0.0.1", port: await closedPort() });
    expect(result.status).toBe("critical");
    expect(result.output).toContain("ECONNREFUSED");
  });
});

describe("gRPC health check", () => {
  let server: Server;
  let target: string;
  const statuses = new Map<string, ServingStatus>([
    ["", "SERVING"],
    ["orders", "SERVING"],
    ["billing", "NOT_SERVING"],
  ]);

  beforeAll(async () => {
    server = new Server();
    server.addService(healthService(), {
      Check(
        call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
        callback: sendUnaryData<HealthCheckResponse>,
      ) {
        const status = statuses.get(call.request.service);
        if (status === undefined) {
          callback({ code: grpcStatus.NOT_FOUND, details: "unknown service" });
          return;
        }
        callback(null, { status });
      },
    });
    const port = await freePort();
    await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error, bound) =>
        error === null ? resolve(bound) : reject(error),
      ),
    );
    target = `127.0.0.1:${port}`;
  });

  afterAll(() => {
    server.forceShutdown();
  });

  it("passes on SERVING, for the server and for a named service", async () => {
    expect((await runCheck({ kind: "grpc", target })).status).toBe("passing");
    expect((await runCheck({ kind: "grpc", target, service: "orders" })).status).toBe("passing");
  });

  it("is critical on NOT_SERVING, an unknown service, or a failed call", async () => {
    const notServing = await runCheck({ kind: "grpc", target, service: "billing" });
    expect(notServing).toEqual({
      status: "critical",
      output: `gRPC health ${target}/billing: NOT_SERVING`,
    });
    const unknown = await runCheck({ kind: "grpc", target, service: "nope" });
    expect(unknown.status).toBe("critical");
    expect(unknown.output).toContain("unknown service");
    const nobody = await runCheck({
      kind: "grpc",
      target: `127.0.0.1:${await closedPort()}`,
      timeoutMs: 3000,
    });
    expect(nobody.status).toBe("critical");
  });
});

describe("custom check", () => {
  it("maps true, false and statuses; a throw is critical", async () => {
    const run = (check: () => Promise<boolean | "passing" | "warning" | "critical">) =>
      runCheck({ kind: "custom", name: "probe", check });
    expect((await run(async () => true)).status).toBe("passing");
    expect((await run(async () => false)).status).toBe("critical");
    expect((await run(async () => "warning")).status).toBe("warning");
    const thrown = await run(async () => {
      throw new Error("database unreachable");
    });
    expect(thrown).toEqual({ status: "critical", output: "database unreachable" });
  });

  it("times out on its clock, aborting the check's signal", async () => {
    const clock = new ManualClock();
    let seen: AbortSignal | undefined;
    const running = runCheck(
      {
        kind: "custom",
        name: "stuck",
        timeoutMs: 500,
        check: (signal) => {
          seen = signal;
          return new Promise(() => {});
        },
      },
      { clock },
    );
    await clock.advance(499);
    expect(seen?.aborted).toBe(false);
    await clock.advance(1);
    const result = await running;
    expect(result.status).toBe("critical");
    expect(result.output).toContain("custom stuck did not finish within 500 ms");
    expect(seen?.aborted).toBe(true);
  });

  it("rejects a malformed check with InvalidArgumentError", async () => {
    await expect(
      runCheck({ kind: "custom", name: "", check: async () => true }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      runCheck({ kind: "custom", name: "x", intervalMs: 5, check: async () => true }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(runCheck({ kind: "tcp", host: "127.0.0.1", port: 0 })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});
