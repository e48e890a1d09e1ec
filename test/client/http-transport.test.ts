import { describe, expect, it } from "vitest";
import {
  AbortedError,
  BadResponseError,
  ConclaveClient,
  DeadlineExceededError,
  OutcomeUnknownError,
} from "../../src/client/index.js";
import { waitFor } from "../server/cluster.js";
import { drop, fakeCluster, json, type Responder } from "./fake-server.js";

const { serve, serveWith, clientOf } = fakeCluster(3);
const range = json(200, { header: { revision: "4" }, kvs: [], count: "0" });

/** Answers nothing but notes when the client's connection closed. */
function hangAndWatch(closed: { count: number }, head?: { partialBody: string }): Responder {
  return (res, req) => {
    req.socket.once("close", () => closed.count++);
    if (head !== undefined) {
      res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
      res.write(head.partialBody);
    }
  };
}

describe("kept-alive connections", () => {
  it("sends many sequential calls, reads and writes, over one connection", async () => {
    const s = await serve(range);
    const c = clientOf([s.url]);
    for (let i = 0; i < 40; i++) {
      await c.get("k");
      await c.put("k", `v${i}`);
    }
    expect(s.seen).toHaveLength(80);
    expect(s.connections()).toBe(1);
  });

  it("drops an idle connection before the server's announced keep-alive timeout", async () => {
    // The server announces `timeout=2`; the client lets go of an idle socket after 1 s.
    const s = await serveWith({ keepAliveTimeoutMs: 2000 }, range);
    const c = clientOf([s.url]);
    await c.get("k");
    await waitFor(() => s.closedConnections() === 1, "the idle connection closed", 5000);
    expect(s.clientEndedConnections()).toBe(1);
    await c.get("k");
    expect(s.seen.map((r) => r.connection)).toEqual([1, 2]);
  });

  it("sends a call again at once on the same endpoint when a reused socket is reset before any answer", async () => {
    // The second request on the kept-alive connection meets a server that closes it.
    const s = await serve(range, drop, range);
    const other = await serve(range);
    const c = clientOf([s.url, other.url]);
    await c.get("k");
    const second = await c.put("k", "v");
    expect(second.revision).toBe(4);
    expect(s.seen).toHaveLength(3);
    expect(s.seen.map((r) => r.connection)).toEqual([1, 1, 2]);
    // Same endpoint, same idempotency key: no failover to the other node.
    expect(other.seen).toHaveLength(0);
    expect(s.seen[2]!.headers["idempotency-key"]).toBe(s.seen[1]!.headers["idempotency-key"]);
  });

  it("sends a membership change on a connection of its own, so a reset is never mistaken for a stale socket", async () => {
    const s = await serve(range, drop);
    const c = clientOf([s.url]);
    await c.get("k");
    const error = await c.memberRemove(2).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutcomeUnknownError);
    expect(s.seen).toHaveLength(2);
    expect(s.seen[1]!.connection).toBe(2);
  });

  it("keeps a watch's stream off the shared connections and ends it on close", async () => {
    const closed = { count: 0 };
    const sse: Responder = (res, req) => {
      req.socket.once("close", () => closed.count++);
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(": open\n\n");
    };
    const s = await serve(sse, range);
    const c = clientOf([s.url]);
    const watch = c.watch("k");
    await waitFor(() => s.seen.length === 1, "the watch request");
    for (let i = 0; i < 10; i++) await c.get("k");
    expect(s.connections()).toBe(2);
    expect(s.seen.slice(1).every((r) => r.connection === 2)).toBe(true);
    await c.close();
    expect(await watch.next()).toEqual({ done: true, value: undefined });
    await waitFor(() => closed.count === 1, "the watch connection closed");
  });
});

describe("ending a request", () => {
  it("destroys the request when the caller aborts before the answer", async () => {
    const closed = { count: 0 };
    const s = await serve(hangAndWatch(closed));
    const c = clientOf([s.url]);
    const controller = new AbortController();
    const pending = c.get("k", { signal: controller.signal }).catch((e: unknown) => e);
    await waitFor(() => s.seen.length === 1, "the request");
    controller.abort();
    expect(await pending).toBeInstanceOf(AbortedError);
    await waitFor(() => closed.count === 1, "the connection closed");
  });

  it("destroys the request when the caller aborts, or the deadline passes, midway through the answer", async () => {
    const closed = { count: 0 };
    const s = await serve(hangAndWatch(closed, { partialBody: '{"header":' }));
    const c = clientOf([s.url]);
    const controller = new AbortController();
    const pending = c.get("k", { signal: controller.signal }).catch((e: unknown) => e);
    await waitFor(() => s.seen.length === 1, "the request");
    controller.abort();
    expect(await pending).toBeInstanceOf(AbortedError);
    await waitFor(() => closed.count === 1, "the connection closed");
    expect(await c.get("k", { timeoutMs: 150 }).catch((e: unknown) => e)).toBeInstanceOf(
      DeadlineExceededError,
    );
    await waitFor(() => closed.count === 2, "the second connection closed");
  });
});

describe("snapshot stream", () => {
  const partialStream =
    (then: "hang" | "drop"): Responder =>
    (res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.write(Buffer.from([1, 2, 3]), () => {
        if (then === "drop") res.socket?.destroy();
      });
    };

  it("throws AbortedError when the caller aborts midway, UnavailableError when the stream breaks", async () => {
    const s = await serve(partialStream("hang"), partialStream("drop"));
    const c = clientOf([s.url]);
    const controller = new AbortController();
    const chunks: Uint8Array[] = [];
    const aborted = await (async () => {
      for await (const chunk of c.snapshot({ signal: controller.signal })) {
        chunks.push(chunk);
        controller.abort();
      }
    })().catch((e: unknown) => e);
    expect(aborted).toBeInstanceOf(AbortedError);
    expect(Buffer.concat(chunks)).toEqual(Buffer.from([1, 2, 3]));
    const broken = await (async () => {
      for await (const _ of c.snapshot()) {
        // read to the end
      }
    })().catch((e: unknown) => e);
    expect(broken).toMatchObject({ code: "UNAVAILABLE" });
  });
});

describe("answer size", () => {
  it("rejects a JSON answer above maxResponseBytes, declared or streamed", async () => {
    const big = JSON.stringify({ header: { revision: "1" }, pad: "x".repeat(4000) });
    const s = await serve(
      json(200, JSON.parse(big)),
      (res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.write(big.slice(0, 2000));
        res.end(big.slice(2000));
      },
      range,
    );
    const c = clientOf([s.url], { maxResponseBytes: 1024 });
    for (let i = 0; i < 2; i++) {
      const error = await c.get("k").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BadResponseError);
      expect((error as BadResponseError).message).toMatch(/more than the 1024 allowed/);
    }
    // A small answer after them still works.
    expect(await c.get("k")).toBeUndefined();
  });

  it("refuses a maxResponseBytes that is not a positive integer", () => {
    expect(
      () => new ConclaveClient({ endpoints: ["http://127.0.0.1:1"], maxResponseBytes: 0 }),
    ).toThrow(/maxResponseBytes/);
  });
});
