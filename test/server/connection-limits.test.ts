import { once } from "node:events";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { resolveClientConnections } from "../../src/server/client-connections.js";
import { clientConnectionBudget, parseOpenFileLimits } from "../../src/server/fd-limits.js";
import { b64 } from "./cluster.js";
import { type ListeningMember, startListeningMember } from "./single-member.js";
import { openWatch } from "./sse-client.js";

let member: ListeningMember | undefined;
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await member?.stop();
  member = undefined;
});

/** Opens a TCP connection and resolves once it is connected (not yet admitted). */
async function connect(port: number, localAddress = "127.0.0.1"): Promise<net.Socket> {
  const socket = net.connect({ port, host: "127.0.0.1", localAddress });
  sockets.push(socket);
  socket.on("error", () => {});
  await once(socket, "connect");
  return socket;
}

/** Resolves when the socket closes; fails the test if that takes longer than `withinMs`. */
function closed(socket: net.Socket, withinMs = 5000): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the socket stayed open")), withinMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function openConnections(m: ListeningMember): Promise<number> {
  return new Promise((resolve, reject) =>
    m.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
  );
}

async function status(url: string): Promise<number> {
  const res = await fetch(`${url}/v3/kv/range`, {
    method: "POST",
    headers: { "content-type": "application/json", connection: "close" },
    body: JSON.stringify({ key: b64("k") }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe("client connection limits", () => {
  it("closes a host's connection past its cap at once and admits it again when one closes", async () => {
    member = await startListeningMember({
      clientConnections: { maxConnections: 50, maxConnectionsPerHost: 3 },
    });
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await connect(member.port));
    // Another loopback source address is the same host: binding 127.0.0.2 gains nothing.
    const over = await connect(member.port, "127.0.0.2");
    await closed(over);
    expect(over.bytesRead).toBe(0);
    held[0]!.destroy();
    const deadline = Date.now() + 5000;
    while ((await openConnections(member)) !== 2) {
      if (Date.now() > deadline) throw new Error("the closed connection was not released");
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await status(member.url)).toBe(200);
  });

  it("closes connections past the member-wide cap", async () => {
    member = await startListeningMember({
      clientConnections: { maxConnections: 2, maxConnectionsPerHost: 10 },
    });
    await connect(member.port);
    await connect(member.port);
    const over = await connect(member.port);
    await closed(over);
    expect(over.bytesRead).toBe(0);
  });

  it("closes a connection that never finishes its request head", async () => {
    member = await startListeningMember({
      clientConnections: { headersTimeoutMs: 200, requestReceiveTimeoutMs: 400 },
    });
    const slow = await connect(member.port);
    slow.write("POST /v3/kv/range HTTP/1.1\r\nHost: x\r\n");
    let answer = "";
    slow.on("data", (chunk: Buffer) => {
      answer += chunk.toString("latin1");
    });
    await closed(slow);
    expect(answer).toMatch(/^HTTP\/1.1 408/);
  });

  it("destroys a connection whose client stopped reading a big answer", async () => {
    member = await startListeningMember({
      clientConnections: { idleTimeoutMs: 300 },
      maxRangeBytes: 64 * 1024 * 1024,
    });
    const value = b64("x".repeat(1024 * 1024));
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${member.url}/v3/kv/put`, {
        method: "POST",
        // Closed after each put, so the only connection left is the stalled reader's.
        headers: { "content-type": "application/json", connection: "close" },
        body: JSON.stringify({ key: b64(`big/${i}`), value }),
      });
      expect(res.status).toBe(200);
    }
    // ~16 MiB of JSON: more than loopback's socket buffers hold, so writes stall.
    const reader = await connect(member.port);
    reader.pause();
    const body = JSON.stringify({ key: b64("big/"), range_end: b64("big0") });
    reader.write(
      `POST /v3/kv/range HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    const deadline = Date.now() + 10_000;
    while ((await openConnections(member)) > 0) {
      if (Date.now() > deadline) throw new Error("the stalled reader's connection stayed open");
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(reader.bytesRead).toBeLessThan(12 * 1024 * 1024);
  });

  it("keeps a watch stream open past the request receive timeout", async () => {
    member = await startListeningMember({
      clientConnections: { headersTimeoutMs: 100, requestReceiveTimeoutMs: 200 },
      watchProgressIntervalMs: 50,
    });
    const opened = await openWatch(member.url, { key: b64("w"), progress_notify: true });
    expect(opened.status).toBe(200);
    const stream = opened.stream!;
    expect((await stream.next())?.event).toBe("created");
    // Several check intervals past both timeouts, waiting on a deadline rather than a sleep.
    const until = Date.now() + 800;
    while (Date.now() < until) {
      const m = await stream.next();
      expect(m).toBeDefined();
    }
    await fetch(`${member.url}/v3/kv/put`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ key: b64("w"), value: b64("v") }),
    });
    let event = await stream.next();
    while (event?.event !== "events") event = await stream.next();
    expect(JSON.parse(event.data).events[0].kv.key).toBe(b64("w"));
    stream.close();
  });
});

describe("connection defaults from the fd limit", () => {
  it("reads the soft and hard open-file limits", () => {
    const text =
      "Limit                     Soft Limit           Hard Limit           Units\n" +
      "Max open files            1024                 524288               files\n";
    expect(parseOpenFileLimits(text)).toEqual({ soft: 1024, hard: 524288 });
    expect(parseOpenFileLimits("Max open files unlimited unlimited files")).toEqual({
      soft: undefined,
      hard: undefined,
    });
  });

  it("keeps a reserve of descriptors that client connections cannot take", () => {
    expect(clientConnectionBudget(256)).toBe(192);
    expect(clientConnectionBudget(1024)).toBe(768);
    expect(clientConnectionBudget(1_048_576)).toBe(65_536);
    const c = resolveClientConnections({}, { soft: 1024, hard: 4096 });
    expect(c.maxConnections).toBe(768);
    expect(c.maxConnectionsPerHost).toBe(384);
    expect(c.checkIntervalMs).toBeLessThanOrEqual(1000);
  });

  it("refuses a header timeout longer than the request receive timeout", () => {
    expect(() =>
      resolveClientConnections({ headersTimeoutMs: 5000, requestReceiveTimeoutMs: 1000 }),
    ).toThrow(/headersTimeoutMs/);
  });
});
