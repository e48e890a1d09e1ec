import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../../src/errors.js";
import type { Message } from "../../../src/raft/core/types.js";
import { MessageType, message } from "../../../src/raft/core/types.js";
import { FramedConnection } from "../../../src/raft/transport/connection.js";
import { dialPeer } from "../../../src/raft/transport/dial.js";
import { InvalidMessageError, TransportListenError } from "../../../src/raft/transport/errors.js";
import { FrameKind } from "../../../src/raft/transport/frame.js";
import {
  ConnectionPurpose,
  HANDSHAKE_MAX_FRAME_BYTES,
  serverHandshake,
} from "../../../src/raft/transport/handshake.js";
import { encodeMessage, packValue } from "../../../src/raft/transport/message-codec.js";
import type { TcpTransport } from "../../../src/raft/transport/tcp-transport.js";
import {
  CLUSTER,
  closedWithin,
  cluster,
  connected,
  LOOPBACK,
  RecordingLogger,
  rawPeerContext,
  SECRET,
  sampleMessages,
  transport,
  waitFor,
} from "./helpers.js";

const live: Array<{ stop(): Promise<void> }> = [];
const servers: Server[] = [];

function track<T extends { stop(): Promise<void> }>(t: T): T {
  live.push(t);
  return t;
}

async function tracked(n: number, extra?: Parameters<typeof cluster>[1]): Promise<TcpTransport[]> {
  const ts = await cluster(n, extra);
  for (const t of ts) track(t);
  return ts;
}

afterEach(async () => {
  await Promise.all(live.splice(0).map((t) => t.stop()));
  await Promise.all(
    servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
  );
});

function heartbeat(from: number, to: number, context = ""): Message {
  return message({ type: MessageType.Heartbeat, to, from, term: 1, context });
}

async function collect(t: TcpTransport): Promise<Message[]> {
  const got: Message[] = [];
  t.onMessage((m) => got.push(m));
  return got;
}

describe("TcpTransport: delivery", () => {
  it("round-trips one message of every type, the snapshot streamed", async () => {
    const [a, b] = (await tracked(2)) as [TcpTransport, TcpTransport];
    const got = await collect(b);
    const snapshots: Array<{ m: Message; data: Uint8Array }> = [];
    b.onSnapshot(async (m, data) => {
      const parts: Uint8Array[] = [];
      for await (const chunk of data) parts.push(chunk);
      snapshots.push({ m, data: new Uint8Array(Buffer.concat(parts)) });
    });
    const statuses: Array<[number, boolean]> = [];
    a.onSnapshotStatus((peer, ok) => statuses.push([peer, ok]));
    await connected(a, 2);

    const samples = sampleMessages(1, 2);
    a.send(samples);
    const plain = samples.filter((m) => m.type !== MessageType.Snap);
    await waitFor(() => got.length === plain.length && statuses.length === 1, "all messages");
    expect(got).toStrictEqual(plain);
    const snap = samples.find((m) => m.type === MessageType.Snap) as Message;
    expect(statuses).toEqual([[2, true]]);
    expect(snapshots).toHaveLength(1);
    expect(snapshots[0]?.data).toStrictEqual(snap.snapshot?.data);
    // The handler gets the metadata; the bytes came through the stream only.
    expect(snapshots[0]?.m).toStrictEqual({
      ...snap,
      snapshot: { metadata: snap.snapshot?.metadata, data: new Uint8Array(0) },
    });
    expect(b.stats().receivedMessages).toBe(plain.length);
    expect(b.stats().snapshotsReceived).toBe(1);
    expect(a.stats().peers[0]?.snapshotsSent).toBe(1);
  });

  it("delivers both ways and in send order", async () => {
    const [a, b] = (await tracked(2)) as [TcpTransport, TcpTransport];
    const atA = await collect(a);
    const atB = await collect(b);
    await connected(a, 2);
    await connected(b, 1);
    for (let i = 0; i < 500; i++) a.send([heartbeat(1, 2, `a${i}`)]);
    b.send(Array.from({ length: 500 }, (_, i) => heartbeat(2, 1, `b${i}`)));
    await waitFor(() => atA.length === 500 && atB.length === 500, "1000 messages");
    expect(atB.map((m) => m.context)).toEqual(Array.from({ length: 500 }, (_, i) => `a${i}`));
    expect(atA.map((m) => m.context)).toEqual(Array.from({ length: 500 }, (_, i) => `b${i}`));
  });

  it("survives a throwing message handler and logs it", async () => {
    const logger = new RecordingLogger();
    const [a, b] = (await tracked(2, (id) => (id === 2 ? { logger } : {}))) as [
      TcpTransport,
      TcpTransport,
    ];
    const got: string[] = [];
    b.onMessage((m) => {
      if (m.context === "boom") throw new Error("handler exploded");
      got.push(m.context);
    });
    await connected(a, 2);
    a.send([heartbeat(1, 2, "boom"), heartbeat(1, 2, "after")]);
    await waitFor(() => got.length === 1, "message after the throw");
    expect(got).toEqual(["after"]);
    expect(logger.find("handler exploded")).toHaveLength(1);
  });

  it("reports messages to unknown peers as unreachable and counts them", async () => {
    const [a] = (await tracked(2)) as [TcpTransport, TcpTransport];
    const unreachable: number[] = [];
    a.onUnreachable((p) => unreachable.push(p));
    a.send([heartbeat(1, 9), heartbeat(1, 9)]);
    expect(unreachable).toEqual([9]);
    expect(a.stats().droppedUnknownPeer).toBe(2);
  });

  it("rejects invalid outgoing messages and bad arguments with typed errors", async () => {
    const [a] = (await tracked(2)) as [TcpTransport, TcpTransport];
    expect(() => a.send([{ ...heartbeat(1, 2), term: -1 }])).toThrow(InvalidMessageError);
    expect(() => a.send([message({ type: MessageType.Beat, to: 2, from: 1 })])).toThrow(
      InvalidMessageError,
    );
    expect(() => a.send([heartbeat(1, 1)])).toThrow(InvalidArgumentError);
    expect(() => a.addPeer(0, { host: LOOPBACK, port: 1 })).toThrow(InvalidArgumentError);
    expect(() => a.addPeer(5, { host: LOOPBACK, port: 70000 })).toThrow(InvalidArgumentError);
    expect(() => a.addPeer(1, { host: LOOPBACK, port: 1 })).toThrow(InvalidArgumentError);
    await expect(a.sendSnapshot(heartbeat(1, 2), (async function* () {})())).rejects.toThrow(
      InvalidArgumentError,
    );
  });

  it("refuses bad options with InvalidArgumentError", () => {
    expect(() => transport(1, { secret: "short" })).toThrow(/at least 32 bytes/);
    expect(() => transport(1, { secret: undefined })).toThrow(/secret is required unless tls/);
    expect(() => transport(1, { unauthenticatedPeers: true })).toThrow(/cannot be combined/);
    expect(() =>
      transport(1, {
        secret: undefined,
        unauthenticatedPeers: true,
        listen: { host: "10.0.0.1", port: 0 },
      }),
    ).toThrow(/loopback/);
    expect(() => transport(1, { clusterId: "" })).toThrow(InvalidArgumentError);
    expect(() => transport(0)).toThrow(InvalidArgumentError);
    expect(() => transport(1, { maxFrameBytes: 10 })).toThrow(InvalidArgumentError);
    expect(() => transport(1, { snapshotChunkBytes: 4096, maxFrameBytes: 4096 })).toThrow(
      /must fit in maxFrameBytes/,
    );
    expect(() =>
      transport(1, { backoff: { initialDelayMs: 100, maxDelayMs: 10, multiplier: 2, jitter: 0 } }),
    ).toThrow(/maxDelayMs/);
  });

  it("reports a port in use as TransportListenError", async () => {
    const [a] = (await tracked(1)) as [TcpTransport];
    const b = transport(2, { listen: a.address });
    await expect(b.start()).rejects.toThrow(TransportListenError);
  });
});

describe("TcpTransport: failures", () => {
  it("reconnects after the peer restarts, reporting it unreachable meanwhile", async () => {
    const [a, b] = (await tracked(2)) as [TcpTransport, TcpTransport];
    const unreachable: number[] = [];
    a.onUnreachable((p) => unreachable.push(p));
    await connected(a, 2);
    const port = b.address.port;
    await b.stop();
    await waitFor(() => unreachable.includes(2), "unreachable report");
    expect(a.stats().peers[0]?.connected).toBe(false);
    // While the peer is down, messages are dropped and counted, never queued up.
    a.send([heartbeat(1, 2, "lost")]);
    const before = a.stats().peers[0];
    expect((before?.droppedDisconnected ?? 0) + (before?.queuedMessages ?? 0)).toBeGreaterThan(0);

    const b2 = track(transport(2, { listen: { host: LOOPBACK, port } }));
    b2.addPeer(1, a.address);
    const got = await collect(b2);
    await b2.start();
    await connected(a, 2);
    a.send([heartbeat(1, 2, "after restart")]);
    await waitFor(() => got.some((m) => m.context === "after restart"), "message after restart");
    expect(a.stats().peers[0]?.connectAttempts).toBeGreaterThan(1);
  });

  it("bounds the send queue by count behind a peer that never answers, counting drops", async () => {
    // A listener that accepts and then says nothing: the handshake never completes.
    const silent = createServer(() => {});
    servers.push(silent);
    await new Promise<void>((r) => silent.listen(0, LOOPBACK, r));
    const port = (silent.address() as { port: number }).port;
    const a = track(transport(1, { maxQueuedMessages: 100, handshakeTimeoutMs: 30_000 }));
    const unreachable: number[] = [];
    a.onUnreachable((p) => unreachable.push(p));
    a.addPeer(2, { host: LOOPBACK, port });
    await a.start();
    for (let i = 0; i < 1000; i++) a.send([heartbeat(1, 2)]);
    const s = a.stats().peers[0];
    expect(s?.queuedMessages).toBe(100);
    expect(s?.droppedQueueFull).toBe(900);
    expect(unreachable.length).toBeGreaterThan(0);
    expect(unreachable.every((p) => p === 2)).toBe(true);
  });

  it("bounds memory behind a connected peer that stops reading", async () => {
    const ctx = rawPeerContext(2);
    // An authenticated peer that never reads after the handshake.
    const accepted: Socket[] = [];
    const stalled = createServer((socket) => {
      accepted.push(socket);
      const conn = new FramedConnection(socket, HANDSHAKE_MAX_FRAME_BYTES, ctx.logger, {});
      void serverHandshake(conn, ctx.identity, () => true, new Uint8Array(0)).then(
        () => conn.pauseReading(),
        () => conn.close(undefined),
      );
    });
    servers.push(stalled);
    await new Promise<void>((r) => stalled.listen(0, LOOPBACK, r));
    const port = (stalled.address() as { port: number }).port;
    const maxQueuedBytes = 4 * 1024 * 1024;
    const a = track(transport(1, { maxQueuedBytes }));
    a.addPeer(2, { host: LOOPBACK, port });
    await a.start();
    await connected(a, 2);

    const payload = new Uint8Array(64 * 1024).fill(1);
    const app = (i: number): Message =>
      message({
        type: MessageType.App,
        to: 2,
        from: 1,
        term: 1,
        index: i,
        entries: [{ term: 1, index: i + 1, type: 0, data: payload }],
      });
    const baseline = process.memoryUsage();
    let peakExternal = 0;
    // 3000 × 64 KiB = ~190 MiB offered to a peer that reads none of it.
    for (let i = 0; i < 3000; i++) {
      a.send([app(i)]);
      if (i % 100 === 0) {
        await new Promise((r) => setImmediate(r));
        const m = process.memoryUsage();
        peakExternal = Math.max(peakExternal, m.arrayBuffers - baseline.arrayBuffers);
        expect(a.stats().peers[0]?.queuedBytes).toBeLessThanOrEqual(maxQueuedBytes);
      }
    }
    const s = a.stats().peers[0];
    expect(s?.droppedQueueFull).toBeGreaterThan(0);
    expect(s?.queuedBytes).toBeLessThanOrEqual(maxQueuedBytes);
    // Queue bound + socket buffer + garbage not yet collected: far below the 190 MiB offered.
    expect(peakExternal).toBeLessThan(96 * 1024 * 1024);
    for (const s of accepted) s.destroy();
  });

  it("drops an outgoing message larger than maxFrameBytes", async () => {
    const [a, b] = (await tracked(2, () => ({
      maxFrameBytes: 64 * 1024,
      snapshotChunkBytes: 16 * 1024,
    }))) as [TcpTransport, TcpTransport];
    const got = await collect(b);
    await connected(a, 2);
    const big = message({
      type: MessageType.App,
      to: 2,
      from: 1,
      entries: [{ term: 1, index: 1, type: 0, data: new Uint8Array(70 * 1024) }],
    });
    a.send([big, heartbeat(1, 2, "small")]);
    await waitFor(() => got.length === 1, "the small message");
    expect(got[0]?.context).toBe("small");
    expect(a.stats().droppedOversized).toBe(1);
  });
});

const RAW = 5;

describe("TcpTransport: hostile or broken frames from an authenticated peer", () => {
  /**
   * A hand-driven node 5 that b knows as a peer (its own dials to node 5 fail,
   * which does not matter), so the regular a–b connections are not disturbed.
   */
  async function rawToB(b: TcpTransport, logger: RecordingLogger) {
    b.addPeer(RAW, { host: LOOPBACK, port: 1 });
    const ctx = { ...rawPeerContext(RAW), logger };
    return dialPeer(ctx, 2, b.address, ConnectionPurpose.Messages, new AbortController().signal);
  }

  const hostile: Array<[string, (conn: FramedConnection) => void, string]> = [
    [
      "an oversized frame",
      (c) => {
        const header = Buffer.alloc(5);
        header.writeUInt32BE(64 * 1024 + 2, 0);
        header[4] = FrameKind.Message;
        c.writeRaw(header);
      },
      "exceeds the limit",
    ],
    [
      "undecodable bytes",
      (c) => c.writeFrame(FrameKind.Message, Buffer.from([0xc1, 0xc1])),
      "undecodable",
    ],
    [
      "a decodable but invalid message (float term)",
      (c) => c.writeFrame(FrameKind.Message, encodeMessage({ ...heartbeat(RAW, 2), term: 1.5 })),
      "term must be a non-negative integer",
    ],
    [
      "a handshake frame after the handshake",
      (c) => c.writeFrame(FrameKind.Hello, packValue([])),
      "unexpected frame kind 1",
    ],
    [
      "an unknown frame kind",
      (c) => c.writeRaw(Buffer.from([0, 0, 0, 1, 200])),
      "unknown frame kind 200",
    ],
  ];

  for (const [what, write, reason] of hostile) {
    it(`closes the connection on ${what}, logs why, and keeps running`, async () => {
      const logger = new RecordingLogger();
      const [a, b] = (await tracked(2, (id) => ({
        maxFrameBytes: 64 * 1024,
        snapshotChunkBytes: 16 * 1024,
        ...(id === 2 ? { logger } : {}),
      }))) as [TcpTransport, TcpTransport];
      const got = await collect(b);
      const raw = await rawToB(b, new RecordingLogger());
      raw.writeFrame(FrameKind.Message, encodeMessage(heartbeat(RAW, 2, "valid first")));
      write(raw);
      await closedWithin(raw, what);
      await waitFor(
        () => b.stats().closedOnBadFrame === 1,
        `bad frame counted (${JSON.stringify(b.stats())})`,
      );
      expect(logger.find(reason).length).toBeGreaterThan(0);
      expect(got.map((m) => m.context)).toEqual(["valid first"]);
      // The node is still up: its regular peer connection works.
      await connected(a, 2);
      a.send([heartbeat(1, 2, "still alive")]);
      await waitFor(
        () => got.some((m) => m.context === "still alive"),
        "delivery after the bad frame",
      );
    });
  }

  it("drops messages with a spoofed sender or another addressee, with one throttled warning", async () => {
    const logger = new RecordingLogger();
    const [, b] = (await tracked(3, (id) => (id === 2 ? { logger } : {}))) as [
      TcpTransport,
      TcpTransport,
      TcpTransport,
    ];
    const got = await collect(b);
    const raw = await rawToB(b, new RecordingLogger());
    // The authenticated peer RAW speaks for node 3 (a configured peer) and to node 3.
    for (let i = 0; i < 50; i++) {
      raw.writeFrame(FrameKind.Message, encodeMessage(heartbeat(3, 2, `spoofed ${i}`)));
      raw.writeFrame(FrameKind.Message, encodeMessage(heartbeat(RAW, 3, `elsewhere ${i}`)));
    }
    raw.writeFrame(FrameKind.Message, encodeMessage(heartbeat(RAW, 2, "genuine")));
    await waitFor(() => got.length === 1, "the genuine message");
    expect(got.map((m) => m.context)).toEqual(["genuine"]);
    expect(b.stats().droppedMisaddressed).toBe(100);
    expect(raw.isOpen).toBe(true);
    // Both kinds carry the same peer, so one warning stands for all hundred.
    const warnings = logger.lines.filter(
      (l) => l.message === "dropped a misaddressed peer message",
    );
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.fields["reason"])).toContain("claiming to be from node 3");
    raw.close(undefined, true);
  });

  it("keeps a forwarded leadership transfer whose sender field names the transferee", async () => {
    const [, b, c] = (await tracked(3)) as [TcpTransport, TcpTransport, TcpTransport];
    void c;
    const got = await collect(b);
    const raw = await rawToB(b, new RecordingLogger());
    raw.writeFrame(
      FrameKind.Message,
      encodeMessage(message({ type: MessageType.TransferLeader, to: 2, from: 3, term: 1 })),
    );
    await waitFor(() => got.length === 1, "transfer message");
    expect(got[0]?.from).toBe(3);
    raw.close(undefined, true);
  });

  it("stop() closes every connection and the listener", async () => {
    const [a, b] = (await tracked(2)) as [TcpTransport, TcpTransport];
    await connected(a, 2);
    await connected(b, 1);
    const raw = await rawToB(b, new RecordingLogger());
    await b.stop();
    await closedWithin(raw, "raw connection after stop");
    expect(b.stats().inboundConnections).toBe(0);
    const failed = dialPeer(
      rawPeerContext(1),
      2,
      b.address,
      ConnectionPurpose.Messages,
      new AbortController().signal,
    );
    await expect(failed).rejects.toThrow();
  });

  it("removePeer drops the peer's connections and refuses it afterwards", async () => {
    const logger = new RecordingLogger();
    const [a, b] = (await tracked(2, (id) => (id === 2 ? { logger } : {}))) as [
      TcpTransport,
      TcpTransport,
    ];
    await connected(a, 2);
    await waitFor(() => b.stats().inboundConnections === 1, "inbound connection");
    b.removePeer(1);
    await waitFor(() => a.stats().peers[0]?.connected === false, "a notices");
    await waitFor(() => logger.find("unknown-peer").length > 0, "refusal of the removed peer");
    expect(b.stats().peers).toHaveLength(0);
  });
});

describe("TcpTransport: handshake", () => {
  it("runs unauthenticated only when asked, on loopback, and says so at construction", async () => {
    const logger = new RecordingLogger();
    const dev = (id: number) =>
      transport(id, { secret: undefined, unauthenticatedPeers: true, logger });
    const a = track(dev(1));
    const b = track(dev(2));
    expect(logger.find("NOT authenticated")).toHaveLength(2);
    const got = await collect(b);
    await b.start();
    a.addPeer(2, b.address);
    b.addPeer(1, { host: LOOPBACK, port: 1 });
    await a.start();
    a.send([heartbeat(1, 2, "dev")]);
    await waitFor(() => got.length === 1, "delivery without a secret");
    // A member with a secret does not mistake a secretless one for a peer.
    const c = track(transport(3));
    c.addPeer(2, b.address);
    b.addPeer(3, { host: LOOPBACK, port: 1 });
    await c.start();
    await waitFor(() => logger.find("bad-proof").length > 0, "refusal of the mismatched member");
    expect(got).toHaveLength(1);
  });

  it.each([
    ["a wrong secret", { secret: "an entirely different secret, also 32+ bytes" }, "bad-proof"],
    ["a wrong cluster id", { clusterId: "other-cluster" }, "cluster-mismatch"],
  ])("with %s the connection is refused and closed, nothing delivered", async (_, bad, failure) => {
    const logA = new RecordingLogger();
    const logB = new RecordingLogger();
    const [a, b] = (await tracked(2, (id) =>
      id === 1 ? { logger: logA, ...bad } : { logger: logB },
    )) as [TcpTransport, TcpTransport];
    const got = await collect(b);
    await waitFor(() => (b.stats().rejectedConnections ?? 0) >= 2, "two refused handshakes");
    a.send([heartbeat(1, 2)]);
    expect(a.stats().peers[0]?.connected).toBe(false);
    expect(b.stats().peers[0]?.connected).toBe(false);
    expect(got).toHaveLength(0);
    // Both sides name the reason.
    expect([...logA.find(failure), ...logB.find(failure)].length).toBeGreaterThan(0);
    await waitFor(() => b.stats().inboundConnections === 0, "refused connections closed");
  });

  it("refuses a peer that dialed the wrong node id", async () => {
    const logB = new RecordingLogger();
    const [a, b] = (await tracked(2, (id) => (id === 2 ? { logger: logB } : {}))) as [
      TcpTransport,
      TcpTransport,
    ];
    a.removePeer(2);
    a.addPeer(3, b.address); // node 2 listens there, not node 3
    await waitFor(() => logB.find("node-mismatch").length > 0, "node-mismatch refusal");
    expect(a.stats().peers.find((p) => p.id === 3)?.connected).toBe(false);
  });

  it("refuses a node that is not a configured peer", async () => {
    const logB = new RecordingLogger();
    const [, b] = (await tracked(2, (id) => (id === 2 ? { logger: logB } : {}))) as [
      TcpTransport,
      TcpTransport,
    ];
    const stranger = rawPeerContext(7);
    await expect(
      dialPeer(stranger, 2, b.address, ConnectionPurpose.Messages, new AbortController().signal),
    ).rejects.toThrow(/unknown-peer/);
    expect(logB.find("unknown-peer").length).toBeGreaterThan(0);
  });

  it("closes an unauthenticated connection that sends nothing, after the handshake timeout", async () => {
    const logB = new RecordingLogger();
    const b = track(transport(2, { handshakeTimeoutMs: 100, logger: logB }));
    await b.start();
    const ctx = rawPeerContext(1);
    const { connect } = await import("node:net");
    const socket = connect(b.address.port, LOOPBACK);
    const conn = new FramedConnection(socket, 1024, ctx.logger, {});
    await closedWithin(conn, "idle unauthenticated connection");
    expect(logB.find("timeout").length).toBeGreaterThan(0);
    expect(b.stats().rejectedConnections).toBe(1);
  });

  it("never puts the secret on the wire, in success or failure", async () => {
    const { RecordingProxy } = await import("./helpers.js");
    for (const clientSecret of [SECRET, "a wrong secret of 32 or more bytes, also never sent"]) {
      const b = track(transport(2));
      const got = await collect(b);
      b.addPeer(1, { host: LOOPBACK, port: 1 });
      await b.start();
      const proxy = new RecordingProxy(b.address);
      track(proxy);
      const proxyAddress = await proxy.start();
      const a = track(transport(1, { secret: clientSecret }));
      a.addPeer(2, proxyAddress);
      await a.start();
      if (clientSecret === SECRET) {
        await connected(a, 2);
        a.send([heartbeat(1, 2, "visible-context")]);
        await waitFor(() => got.length === 1, "message through the proxy");
        expect(proxy.bytes().includes("visible-context")).toBe(true);
      } else {
        await waitFor(() => b.stats().rejectedConnections > 0, "refusal");
      }
      const wire = proxy.bytes();
      expect(wire.byteLength).toBeGreaterThan(100);
      for (const s of [SECRET, clientSecret]) {
        const secret = Buffer.from(s);
        expect(wire.includes(secret)).toBe(false);
        expect(wire.includes(secret.toString("hex"))).toBe(false);
        expect(wire.includes(secret.toString("base64"))).toBe(false);
      }
      expect(wire.includes(CLUSTER)).toBe(true); // the handshake did cross the proxy
      await a.stop();
      await b.stop();
    }
  });
});
