import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../../src/errors.js";
import { Xoshiro128 } from "../../../src/raft/core/prng.js";
import type { Message, NodeId } from "../../../src/raft/core/types.js";
import { MessageType, message } from "../../../src/raft/core/types.js";
import { FramedConnection } from "../../../src/raft/transport/connection.js";
import { dialPeer } from "../../../src/raft/transport/dial.js";
import type { Frame } from "../../../src/raft/transport/frame.js";
import { FrameDecoder, FrameKind } from "../../../src/raft/transport/frame.js";
import { MAX_GROUP, withGroupPrefix } from "../../../src/raft/transport/group.js";
import {
  ConnectionPurpose,
  HANDSHAKE_MAX_FRAME_BYTES,
  serverHandshake,
} from "../../../src/raft/transport/handshake.js";
import { type CarriedPacket, MemoryNetwork } from "../../../src/raft/transport/memory-network.js";
import { encodeMessage, encodeMessageFrame } from "../../../src/raft/transport/message-codec.js";
import type { TcpTransport } from "../../../src/raft/transport/tcp-transport.js";
import type { Transport } from "../../../src/raft/transport/transport.js";
import { SimNetwork } from "../../../src/sim/network.js";
import { Scheduler } from "../../../src/sim/scheduler.js";
import {
  closedWithin,
  cluster,
  connected,
  LOOPBACK,
  RecordingLogger,
  rawPeerContext,
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

function snap(from: number, to: number, index: number): Message {
  const confState = {
    voters: [1, 2],
    votersOutgoing: [],
    learners: [],
    learnersNext: [],
    autoLeave: false,
  };
  return message({
    type: MessageType.Snap,
    to,
    from,
    term: 3,
    snapshot: { metadata: { index, term: 2, confState }, data: new Uint8Array(0) },
  });
}

async function* chunks(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

interface Got {
  readonly m: Message;
  readonly group: number;
}

function collect(t: Transport): Got[] {
  const got: Got[] = [];
  t.onMessage((m, group) => got.push({ m, group }));
  return got;
}

function collectControl(t: Transport): Array<[NodeId, string]> {
  const got: Array<[NodeId, string]> = [];
  t.onControl((from, payload) => got.push([from, Buffer.from(payload).toString()]));
  return got;
}

const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));

/** Two snapshots must both be inside the receiver's handler before either may finish. */
function overlappingSnapshots(t: Transport): Array<{ group: number; index: number; data: string }> {
  const done: Array<{ group: number; index: number; data: string }> = [];
  let inside = 0;
  let release: () => void = () => {};
  const both = new Promise<void>((resolve) => {
    release = resolve;
  });
  t.onSnapshot(async (m, data, group) => {
    inside++;
    if (inside === 2) release();
    await both;
    const parts: Uint8Array[] = [];
    for await (const c of data) parts.push(c);
    done.push({
      group,
      index: m.snapshot?.metadata.index ?? -1,
      data: Buffer.concat(parts).toString(),
    });
  });
  return done;
}

describe("TcpTransport: Raft groups", () => {
  it("delivers messages of groups 0, 1 and 70000 with their group, in order", async () => {
    const [a, b] = (await tracked(2)) as [TcpTransport, TcpTransport];
    const got = collect(b);
    await connected(a, 2);
    a.send([heartbeat(1, 2, "g0")]);
    a.send([heartbeat(1, 2, "g1")], 1);
    a.send([heartbeat(1, 2, "g70000")], 70_000);
    a.send([heartbeat(1, 2, "gmax")], MAX_GROUP);
    a.send([heartbeat(1, 2, "g0 again")], 0);
    await waitFor(() => got.length === 5, "five messages");
    expect(got.map((g) => [g.m.context, g.group])).toEqual([
      ["g0", 0],
      ["g1", 1],
      ["g70000", 70_000],
      ["gmax", MAX_GROUP],
      ["g0 again", 0],
    ]);
  });

  it("refuses a group that is not a u32 with InvalidArgumentError, sending nothing", async () => {
    const [a, b] = (await tracked(2)) as [TcpTransport, TcpTransport];
    const got = collect(b);
    for (const bad of [-1, 1.5, MAX_GROUP + 1, Number.NaN, "1" as unknown as number]) {
      expect(() => a.send([heartbeat(1, 2)], bad)).toThrow(InvalidArgumentError);
      await expect(a.sendSnapshot(snap(1, 2, 5), chunks(), { group: bad })).rejects.toThrow(
        InvalidArgumentError,
      );
    }
    expect(a.stats().peers[0]?.sentMessages).toBe(0);
    expect(got).toEqual([]);
  });

  it("keeps group 0 in the original Message frame, byte for byte; other groups use GroupMessage", async () => {
    // The numbers are the protocol: existing kinds keep theirs, new ones are added.
    expect([FrameKind.Message, FrameKind.SnapshotBegin, FrameKind.SnapshotAck]).toEqual([
      16, 32, 35,
    ]);
    expect([FrameKind.GroupMessage, FrameKind.GroupSnapshotBegin, FrameKind.Control]).toEqual([
      17, 36, 48,
    ]);
    // A hand-driven acceptor records every frame node 1 sends it.
    const ctx = rawPeerContext(2);
    const frames: Frame[] = [];
    const server = createServer((socket) => {
      const conn = new FramedConnection(socket, HANDSHAKE_MAX_FRAME_BYTES, ctx.logger, {});
      void serverHandshake(conn, ctx.identity, () => true, new Uint8Array(0)).then(
        () => {
          conn.decoder.maxFrameBytes = 1024 * 1024;
          conn.setFrameHandler((f) => frames.push({ kind: f.kind, body: new Uint8Array(f.body) }));
        },
        () => conn.close(undefined),
      );
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
    const a = track(transport(1));
    a.addPeer(2, { host: LOOPBACK, port: (server.address() as { port: number }).port });
    await a.start();
    await connected(a, 2);
    const m = heartbeat(1, 2, "same bytes");
    a.send([m]);
    a.send([m], 9);
    expect(a.sendControl(2, text("ctl"))).toBe(true);
    await waitFor(() => frames.length === 3, "three frames");
    expect(frames[0]?.kind).toBe(FrameKind.Message);
    expect(Buffer.from(frames[0]?.body ?? [])).toEqual(Buffer.from(encodeMessage(m)));
    expect(frames[1]?.kind).toBe(FrameKind.GroupMessage);
    expect(Buffer.from(frames[1]?.body ?? [])).toEqual(
      Buffer.from(withGroupPrefix(9, encodeMessage(m))),
    );
    expect(frames[2]).toEqual({ kind: FrameKind.Control, body: text("ctl") });
    // The whole group-0 frame is what the transport always queued.
    const decoder = new FrameDecoder(1024);
    const whole: Frame[] = [];
    for (const part of encodeMessageFrame(FrameKind.Message, m))
      decoder.push(part, (f) => whole.push(f));
    expect(whole[0]?.kind).toBe(16);
  });

  it("streams snapshots of two groups to one peer at once; each status names its group", async () => {
    const [a, b] = (await tracked(2)) as [TcpTransport, TcpTransport];
    const done = overlappingSnapshots(b);
    const statuses: Array<[number, boolean, number]> = [];
    a.onSnapshotStatus((peer, ok, group) => statuses.push([peer, ok, group]));
    const one = a.sendSnapshot(snap(1, 2, 10), chunks(text("group "), text("one")), { group: 1 });
    const two = a.sendSnapshot(snap(1, 2, 20), chunks(text("group two")), { group: 70_000 });
    // A second snapshot of the same (peer, group) fails at once; the first goes on.
    expect(await a.sendSnapshot(snap(1, 2, 11), chunks(), { group: 1 })).toBe(false);
    expect(await Promise.all([one, two])).toEqual([true, true]);
    expect(done.sort((x, y) => x.group - y.group)).toEqual([
      { group: 1, index: 10, data: "group one" },
      { group: 70_000, index: 20, data: "group two" },
    ]);
    expect(statuses).toContainEqual([2, false, 1]);
    expect(statuses).toContainEqual([2, true, 1]);
    expect(statuses).toContainEqual([2, true, 70_000]);
    expect(statuses).toHaveLength(3);
    // Group 0 still works, and a snap message passed to send() carries its group.
    const plain: Got[] = [];
    b.onSnapshot(async (m, data, group) => {
      for await (const _ of data) void _;
      plain.push({ m, group });
    });
    expect(await a.sendSnapshot(snap(1, 2, 30), chunks(text("zero")))).toBe(true);
    a.send([{ ...snap(1, 2, 40), snapshot: { ...snap(1, 2, 40).snapshot!, data: text("x") } }], 5);
    await waitFor(() => plain.length === 2, "two more snapshots");
    expect(plain.map((p) => [p.m.snapshot?.metadata.index, p.group])).toEqual([
      [30, 0],
      [40, 5],
    ]);
    expect(statuses.at(-1)).toEqual([2, true, 5]);
  });

  it("carries control payloads both ways, in order with messages", async () => {
    const [a, b] = (await tracked(2)) as [TcpTransport, TcpTransport];
    const toA = collectControl(a);
    const toB = collectControl(b);
    const order: string[] = [];
    b.onMessage((m) => order.push(`m:${m.context}`));
    b.onControl((from, p) => {
      toB.push([from, Buffer.from(p).toString()]);
      order.push(`c:${Buffer.from(p).toString()}`);
    });
    await connected(a, 2);
    a.send([heartbeat(1, 2, "1")]);
    expect(a.sendControl(2, text("2"))).toBe(true);
    a.send([heartbeat(1, 2, "3")], 4);
    expect(b.sendControl(1, text("hello a"))).toBe(true);
    expect(b.sendControl(1, new Uint8Array(0))).toBe(true);
    await waitFor(() => order.length === 3 && toA.length === 2, "control both ways");
    expect(order).toEqual(["m:1", "c:2", "m:3"]);
    expect(toB).toEqual([[1, "2"]]);
    expect(toA).toEqual([
      [2, "hello a"],
      [2, ""],
    ]);
    expect(a.stats()).toMatchObject({ controlSent: 1, controlReceived: 2, droppedControl: 0 });
    expect(b.stats()).toMatchObject({ controlSent: 2, controlReceived: 1 });
  });

  it("sendControl: false for an unknown peer or a stopped transport, throws for bad arguments", async () => {
    const a = track(transport(1, { maxFrameBytes: 4096, snapshotChunkBytes: 1024 }));
    expect(a.sendControl(2, text("before start, not a peer"))).toBe(false);
    await a.start();
    a.addPeer(2, { host: LOOPBACK, port: 1 });
    expect(a.sendControl(3, text("not a peer"))).toBe(false);
    expect(() => a.sendControl(2, new Uint8Array(4096))).toThrow(InvalidArgumentError);
    expect(() => a.sendControl(2, "text" as unknown as Uint8Array)).toThrow(InvalidArgumentError);
    expect(() => a.sendControl(1, text("self"))).toThrow(InvalidArgumentError);
    expect(() => a.sendControl(0, text("bad id"))).toThrow(InvalidArgumentError);
    expect(a.sendControl(2, new Uint8Array(4095))).toBe(true); // queued while connecting
    await a.stop();
    expect(a.sendControl(2, text("stopped"))).toBe(false);
    expect(a.stats().droppedControl).toBe(3);
  });

  it("with admitUnknownPeers, hears control from a node it never added, but none of its Raft messages", async () => {
    const b = track(transport(2, { admitUnknownPeers: true }));
    await b.start();
    const got = collect(b);
    const control = collectControl(b);
    // Node 7 knows b; b has never heard of node 7.
    const stranger = track(transport(7));
    stranger.addPeer(2, b.address);
    await stranger.start();
    expect(stranger.sendControl(2, text("I am node 7"))).toBe(true);
    stranger.send([heartbeat(7, 2, "raft")], 3);
    await waitFor(() => control.length === 1, "the announcement");
    expect(control).toEqual([[7, "I am node 7"]]);
    await waitFor(() => b.stats().droppedMisaddressed === 1, "the raft message dropped");
    expect(got).toEqual([]);
    // A stranger's snapshot is refused.
    expect(await stranger.sendSnapshot(snap(7, 2, 9), chunks(text("x")), { group: 3 })).toBe(false);
    // Once b adds node 7, its messages are delivered too.
    b.addPeer(7, stranger.address);
    stranger.send([heartbeat(7, 2, "now a peer")], 3);
    await waitFor(() => got.length === 1, "message once a peer");
    expect(got[0]).toMatchObject({ group: 3, m: { context: "now a peer" } });
  });

  it("without admitUnknownPeers, a node it never added cannot even connect", async () => {
    const logB = new RecordingLogger();
    const b = track(transport(2, { logger: logB }));
    await b.start();
    const control = collectControl(b);
    const stranger = track(transport(7));
    stranger.addPeer(2, b.address);
    await stranger.start();
    stranger.sendControl(2, text("let me in"));
    await waitFor(() => logB.find("unknown-peer").length > 0, "the refusal");
    expect(control).toEqual([]);
    expect(() => transport(3, { admitUnknownPeers: "yes" as unknown as boolean })).toThrow(
      InvalidArgumentError,
    );
  });
});

describe("TcpTransport: coalesced writes", () => {
  for (const coalesceWrites of [false, true]) {
    it(`${coalesceWrites ? "writes once per loop turn" : "writes on every send"}, delivering every group's messages in order`, async () => {
      const [a, b] = await tracked(2, () => ({ coalesceWrites }));
      const got = collect(b as TcpTransport);
      await connected(a as TcpTransport, 2);
      for (let g = 1; g <= 50; g++) a?.send([heartbeat(1, 2, `g${g}`)], g);
      // Coalescing holds the frames until the end of this turn of the event loop.
      const queued = a?.stats().peers.find((p) => p.id === 2)?.queuedMessages;
      expect(queued).toBe(coalesceWrites ? 50 : 0);
      await waitFor(() => got.length === 50, "50 messages");
      expect(got.map((x) => [x.group, x.m.context])).toEqual(
        Array.from({ length: 50 }, (_, i) => [i + 1, `g${i + 1}`]),
      );
    });
  }
});

describe("TcpTransport: hostile group and control frames", () => {
  const RAW = 5;

  async function rawToB(b: TcpTransport) {
    b.addPeer(RAW, { host: LOOPBACK, port: 1 });
    const ctx = { ...rawPeerContext(RAW), logger: new RecordingLogger() };
    return dialPeer(ctx, 2, b.address, ConnectionPurpose.Messages, new AbortController().signal);
  }

  const prefix = (group: number, body: Uint8Array): Uint8Array => {
    const out = new Uint8Array(4 + body.byteLength);
    new DataView(out.buffer).setUint32(0, group);
    out.set(body, 4);
    return out;
  };

  const hostile: Array<[string, (conn: FramedConnection) => void, string]> = [
    [
      "a group frame naming group 0",
      (c) => c.writeFrame(FrameKind.GroupMessage, prefix(0, encodeMessage(heartbeat(RAW, 2)))),
      "group 0 must travel in a plain",
    ],
    [
      "a group frame too short for its group id",
      (c) => c.writeFrame(FrameKind.GroupMessage, new Uint8Array([0, 1, 0])),
      "too short for its group id",
    ],
    [
      "a group frame with an undecodable message",
      (c) => c.writeFrame(FrameKind.GroupMessage, prefix(3, new Uint8Array([0xc1, 0xc1]))),
      "undecodable",
    ],
    [
      "a group frame with an invalid message",
      (c) =>
        c.writeFrame(
          FrameKind.GroupMessage,
          prefix(3, encodeMessage({ ...heartbeat(RAW, 2), term: -1 })),
        ),
      "term must be",
    ],
    [
      "a group snapshot header on a message connection",
      (c) => c.writeFrame(FrameKind.GroupSnapshotBegin, prefix(3, encodeMessage(snap(RAW, 2, 1)))),
      "unexpected frame kind 36",
    ],
  ];

  for (const [what, write, reason] of hostile) {
    it(`closes the connection on ${what}, and keeps serving`, async () => {
      const logger = new RecordingLogger();
      const [a, b] = (await tracked(2, (id) => (id === 2 ? { logger } : {}))) as [
        TcpTransport,
        TcpTransport,
      ];
      const got = collect(b);
      const control = collectControl(b);
      const raw = await rawToB(b);
      raw.writeFrame(FrameKind.GroupMessage, prefix(8, encodeMessage(heartbeat(RAW, 2, "ok"))));
      raw.writeFrame(FrameKind.Control, text("ok too"));
      write(raw);
      await closedWithin(raw, what);
      await waitFor(() => b.stats().closedOnBadFrame === 1, "bad frame counted");
      expect(logger.find(reason).length).toBeGreaterThan(0);
      expect(got.map((g) => [g.m.context, g.group])).toEqual([["ok", 8]]);
      expect(control).toEqual([[RAW, "ok too"]]);
      await connected(a, 2);
      a.send([heartbeat(1, 2, "still alive")], 8);
      await waitFor(() => got.some((g) => g.m.context === "still alive"), "delivery after");
    });
  }

  it("refuses a group snapshot header naming group 0 on a snapshot connection", async () => {
    const [, b] = (await tracked(2)) as [TcpTransport, TcpTransport];
    const seen: number[] = [];
    b.onSnapshot(async (_m, _d, group) => {
      seen.push(group);
    });
    b.addPeer(RAW, { host: LOOPBACK, port: 1 });
    const ctx = { ...rawPeerContext(RAW), logger: new RecordingLogger() };
    const raw = await dialPeer(
      ctx,
      2,
      b.address,
      ConnectionPurpose.Snapshot,
      new AbortController().signal,
    );
    raw.writeFrame(
      FrameKind.GroupSnapshotBegin,
      prefix(0, encodeMessage({ ...snap(RAW, 2, 1) }, true)),
    );
    await closedWithin(raw, "group 0 snapshot header");
    await waitFor(() => b.stats().closedOnBadFrame === 1, "bad frame counted");
    expect(seen).toEqual([]);
  });
});

describe("MemoryTransport: Raft groups and control", () => {
  async function pair(options: ConstructorParameters<typeof MemoryNetwork>[0] = {}) {
    const net = new MemoryNetwork({ autoDeliver: false, ...options });
    const a = net.transport(1);
    const b = net.transport(2);
    a.addPeer(2, { host: "b", port: 1 });
    b.addPeer(1, { host: "a", port: 1 });
    await a.start();
    await b.start();
    return { net, a, b };
  }

  it("delivers each message with its group and validates the group", async () => {
    const { net, a, b } = await pair();
    const got = collect(b);
    a.send([heartbeat(1, 2, "g0")]);
    a.send([heartbeat(1, 2, "g1")], 1);
    a.send([heartbeat(1, 2, "g70000")], 70_000);
    expect(() => a.send([heartbeat(1, 2)], -1)).toThrow(InvalidArgumentError);
    expect(() => a.send([heartbeat(1, 2)], 2 ** 32)).toThrow(InvalidArgumentError);
    net.flush();
    expect(got.map((g) => [g.m.context, g.group])).toEqual([
      ["g0", 0],
      ["g1", 1],
      ["g70000", 70_000],
    ]);
  });

  it("streams snapshots of two groups to one peer at once; each status names its group", async () => {
    const { a, b } = await pair();
    const done = overlappingSnapshots(b);
    const statuses: Array<[number, boolean, number]> = [];
    a.onSnapshotStatus((peer, ok, group) => statuses.push([peer, ok, group]));
    const one = a.sendSnapshot(snap(1, 2, 10), chunks(text("group one")), { group: 1 });
    const two = a.sendSnapshot(snap(1, 2, 20), chunks(text("group two")), { group: 70_000 });
    expect(await a.sendSnapshot(snap(1, 2, 11), chunks(), { group: 1 })).toBe(false);
    expect(await Promise.all([one, two])).toEqual([true, true]);
    expect(done.sort((x, y) => x.group - y.group)).toEqual([
      { group: 1, index: 10, data: "group one" },
      { group: 70_000, index: 20, data: "group two" },
    ]);
    expect(statuses).toHaveLength(3);
    expect(statuses).toContainEqual([2, false, 1]);
    expect(statuses).toContainEqual([2, true, 1]);
    expect(statuses).toContainEqual([2, true, 70_000]);
  });

  it("carries control both ways in order with messages; a cut link drops control", async () => {
    const { net, a, b } = await pair();
    const order: string[] = [];
    b.onMessage((m, g) => order.push(`m:${m.context}@${g}`));
    b.onControl((from, p) => order.push(`c:${from}:${Buffer.from(p).toString()}`));
    const toA = collectControl(a);
    a.send([heartbeat(1, 2, "1")], 3);
    const payload = text("2");
    expect(a.sendControl(2, payload)).toBe(true);
    payload.fill(0); // the network carries a copy
    expect(b.sendControl(1, text("back"))).toBe(true);
    net.flush();
    expect(order).toEqual(["m:1@3", "c:1:2"]);
    expect(toA).toEqual([[2, "back"]]);

    net.block(1, 2);
    expect(a.sendControl(2, text("over a cut link"))).toBe(false);
    net.unblock(1, 2);
    expect(a.sendControl(2, text("cut in flight"))).toBe(true);
    net.block(1, 2);
    net.flush();
    net.heal();
    expect(order).toHaveLength(2);
    expect(a.stats()).toMatchObject({ controlSent: 2, droppedControl: 1 });
    expect(b.stats()).toMatchObject({ controlReceived: 1 });
    expect(() => a.sendControl(2, new Uint8Array(16 * 1024 * 1024))).toThrow(InvalidArgumentError);
    expect(a.sendControl(9, text("not a peer"))).toBe(false);
    await a.stop();
    expect(a.sendControl(2, text("stopped"))).toBe(false);
  });

  it("delivers control from a node never added only when the network admits unknown peers", async () => {
    for (const admitUnknownPeers of [true, false]) {
      const net = new MemoryNetwork({ autoDeliver: false, admitUnknownPeers });
      const b = net.transport(2);
      const stranger = net.transport(7);
      stranger.addPeer(2, { host: "b", port: 1 });
      await b.start();
      await stranger.start();
      const control = collectControl(b);
      const got = collect(b);
      expect(stranger.sendControl(2, text("I am node 7"))).toBe(true);
      stranger.send([heartbeat(7, 2, "raft")], 4);
      net.flush();
      expect(control).toEqual(admitUnknownPeers ? [[7, "I am node 7"]] : []);
      expect(got).toEqual([]);
      expect(b.stats().droppedControl).toBe(admitUnknownPeers ? 0 : 1);
    }
  });

  it("hands the carry hook every group message and control payload, with its link", async () => {
    const carried: CarriedPacket[] = [];
    const arrivals: Array<() => void> = [];
    const { net, a, b } = await pair({
      carry: (p, arrive) => {
        carried.push(p);
        arrivals.push(arrive);
      },
    });
    const got = collect(b);
    const control = collectControl(b);
    a.send([heartbeat(1, 2, "x")], 12);
    a.sendControl(2, text("y"));
    expect(carried.map((p) => [p.kind, p.from, p.to, p.kind === "message" ? p.group : -1])).toEqual(
      [
        ["message", 1, 2, 12],
        ["control", 1, 2, -1],
      ],
    );
    // A duplicating link delivers each twice; after the link is cut, arrivals are lost.
    for (const arrive of arrivals) arrive();
    for (const arrive of arrivals) arrive();
    net.block(1, 2);
    for (const arrive of arrivals) arrive();
    expect(got.map((g) => [g.m.context, g.group])).toEqual([
      ["x", 12],
      ["x", 12],
    ]);
    expect(control).toEqual([
      [1, "y"],
      [1, "y"],
    ]);
    expect(net.lost).toBe(2);
  });
});

describe("SimNetwork: groups and control take the link model", () => {
  it("delays group messages and control payloads alike, and a partition drops both", async () => {
    const scheduler = new Scheduler();
    const sim = new SimNetwork(scheduler, new Xoshiro128(7), (_to, arrive) => arrive());
    sim.faults = { lossRate: 0, duplicateRate: 0, latencyMs: 10, jitterMs: 0 };
    const a = sim.memory.transport(1);
    const b = sim.memory.transport(2);
    a.addPeer(2, { host: "b", port: 1 });
    await a.start();
    await b.start();
    const events: string[] = [];
    b.onMessage((m, g) => events.push(`${scheduler.now}:m:${m.context}@${g}`));
    // b never added a: its control still arrives (a new node announcing itself).
    b.onControl((from, p) => events.push(`${scheduler.now}:c:${from}:${Buffer.from(p)}`));
    b.addPeer(1, { host: "a", port: 1 });
    a.send([heartbeat(1, 2, "hb")], 33);
    a.sendControl(2, text("ctl"));
    b.removePeer(1);
    await scheduler.run(100);
    expect(events).toEqual(["10:c:1:ctl"]); // the message of a non-peer is dropped
    b.addPeer(1, { host: "a", port: 1 });
    a.send([heartbeat(1, 2, "hb2")], 33);
    a.sendControl(2, text("ctl2"));
    sim.partition([1], [2]);
    await scheduler.run(200);
    sim.heal();
    a.send([heartbeat(1, 2, "hb3")], 33);
    a.sendControl(2, text("ctl3"));
    await scheduler.run(300);
    expect(events).toEqual(["10:c:1:ctl", "210:m:hb3@33", "210:c:1:ctl3"]);
    expect(sim.sent).toBe(6);
  });
});
