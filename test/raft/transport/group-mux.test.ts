import { afterEach, describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../../src/errors.js";
import type { Message, NodeId } from "../../../src/raft/core/types.js";
import { MessageType, message } from "../../../src/raft/core/types.js";
import { GroupMux } from "../../../src/raft/transport/index.js";
import { MemoryNetwork } from "../../../src/raft/transport/memory-network.js";
import type { MemoryTransport } from "../../../src/raft/transport/memory-transport.js";
import type { TcpTransport } from "../../../src/raft/transport/tcp-transport.js";
import type { Transport } from "../../../src/raft/transport/transport.js";
import { cluster, connected, waitFor } from "./helpers.js";

const live: Array<{ stop(): Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(live.splice(0).map((t) => t.stop()));
});

const ADDR = { host: "mem", port: 1 };

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

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield new Uint8Array(Buffer.from(p));
}

function record(t: Transport): string[] {
  const got: string[] = [];
  t.onMessage((m, group) => got.push(`${m.context}@${group}`));
  return got;
}

const peerIds = (t: Transport): NodeId[] => t.stats().peers.map((p) => p.id);

/** Two nodes, each with a GroupMux over a MemoryTransport; nothing moves until flush(). */
async function memoryPair(): Promise<{
  net: MemoryNetwork;
  a: MemoryTransport;
  b: MemoryTransport;
  muxA: GroupMux;
  muxB: GroupMux;
}> {
  const net = new MemoryNetwork({ autoDeliver: false });
  const a = net.transport(1);
  const b = net.transport(2);
  const muxA = new GroupMux(a);
  const muxB = new GroupMux(b);
  await a.start();
  await b.start();
  return { net, a, b, muxA, muxB };
}

describe("GroupMux", () => {
  it("gives each group its own view: isolated delivery, the group passed along", async () => {
    const { net, a, muxA, muxB } = await memoryPair();
    const a1 = muxA.view(1);
    const a2 = muxA.view(70_000);
    const b1 = muxB.view(1);
    const b2 = muxB.view(70_000);
    for (const v of [a1, a2]) v.addPeer(2, ADDR);
    for (const v of [b1, b2]) v.addPeer(1, ADDR);
    await Promise.all([a1, a2, b1, b2].map((v) => v.start()));
    expect(a1.id).toBe(1);
    expect(muxA.groups()).toEqual([1, 70_000]);
    const got1 = record(b1);
    const got2 = record(b2);
    a1.send([heartbeat(1, 2, "one")]);
    a2.send([heartbeat(1, 2, "two")]);
    a1.send([heartbeat(1, 2, "one again")], 1);
    expect(() => a1.send([heartbeat(1, 2)], 2)).toThrow(InvalidArgumentError);
    net.flush();
    expect(got1).toEqual(["one@1", "one again@1"]);
    expect(got2).toEqual(["two@70000"]);
    expect(a1.stats()).toEqual(a.stats());
    expect(() => muxA.view(1)).toThrow(InvalidArgumentError);
    expect(() => muxA.view(-1)).toThrow(InvalidArgumentError);
    expect(() => muxA.view(2 ** 32)).toThrow(InvalidArgumentError);
  });

  it("routes snapshots and their outcomes to the group's view", async () => {
    const { muxA, muxB } = await memoryPair();
    const a1 = muxA.view(1);
    const a2 = muxA.view(2);
    const b1 = muxB.view(1);
    const b2 = muxB.view(2);
    a1.addPeer(2, ADDR);
    a2.addPeer(2, ADDR);
    b1.addPeer(1, ADDR);
    b2.addPeer(1, ADDR);
    const received: string[] = [];
    b2.onSnapshot(async (m, data, group) => {
      let text = "";
      for await (const c of data) text += Buffer.from(c).toString();
      received.push(`${m.snapshot?.metadata.index}:${text}@${group}`);
    });
    const status1: string[] = [];
    const status2: string[] = [];
    a1.onSnapshotStatus((peer, ok, group) => status1.push(`${peer}:${ok}@${group}`));
    a2.onSnapshotStatus((peer, ok, group) => status2.push(`${peer}:${ok}@${group}`));
    expect(await a2.sendSnapshot(snap(1, 2, 7), chunks("seven"))).toBe(true);
    // Group 1's view on b has no snapshot handler: refused.
    expect(await a1.sendSnapshot(snap(1, 2, 8), chunks("eight"))).toBe(false);
    expect(received).toEqual(["7:seven@2"]);
    expect(status2).toEqual(["2:true@2"]);
    expect(status1).toEqual(["2:false@1"]);
    await expect(a1.sendSnapshot(snap(1, 2, 9), chunks(), { group: 2 })).rejects.toThrow(
      InvalidArgumentError,
    );
  });

  it("counts peers across views and pins: one group removing a peer keeps it for the others", async () => {
    const { net, a, muxA, muxB } = await memoryPair();
    const a1 = muxA.view(1);
    const a2 = muxA.view(2);
    const b2 = muxB.view(2);
    b2.addPeer(1, ADDR);
    const got = record(b2);
    a1.addPeer(2, ADDR);
    a2.addPeer(2, ADDR);
    a1.removePeer(2);
    a1.removePeer(2); // twice is harmless
    expect(peerIds(a)).toEqual([2]);
    a2.send([heartbeat(1, 2, "still a peer")]);
    net.flush();
    expect(got).toEqual(["still a peer@2"]);
    // A view that never added a peer cannot remove it.
    a1.removePeer(2);
    expect(peerIds(a)).toEqual([2]);
    // The pin keeps it too.
    muxA.pinPeer(2, ADDR);
    a2.removePeer(2);
    expect(peerIds(a)).toEqual([2]);
    muxA.unpinPeer(2);
    expect(peerIds(a)).toEqual([]);
    // Stopping a view releases its peers.
    a2.addPeer(2, ADDR);
    await a2.stop();
    expect(peerIds(a)).toEqual([]);
    expect(() => a1.addPeer(1, ADDR)).toThrow(InvalidArgumentError); // itself
  });

  it("reports messages of a group with no view, then drops them", async () => {
    const { net, muxA, muxB } = await memoryPair();
    const a9 = muxA.view(9);
    a9.addPeer(2, ADDR);
    muxB.pinPeer(1, ADDR);
    const unknown: string[] = [];
    muxB.onUnknownGroup((group, m) => unknown.push(`${m.context}@${group}`));
    a9.send([heartbeat(1, 2, "lazy")]);
    expect(await a9.sendSnapshot(snap(1, 2, 3), chunks("x"))).toBe(false);
    net.flush();
    expect(unknown).toEqual(["@9", "lazy@9"]);
    expect(muxB.droppedUnknownGroup).toBe(2);
    // Once the host creates the replica, the group's traffic reaches it.
    const b9 = muxB.view(9);
    const got = record(b9);
    a9.send([heartbeat(1, 2, "created")]);
    net.flush();
    expect(got).toEqual(["created@9"]);
    expect(unknown).toHaveLength(2);
  });

  it("stop detaches a view, which may then be created again; the carrier keeps running", async () => {
    const { net, a, b, muxA, muxB } = await memoryPair();
    muxA.pinPeer(2, ADDR);
    muxB.pinPeer(1, ADDR);
    const a1 = muxA.view(1);
    const old = muxB.view(1);
    const oldGot = record(old);
    const unreachable: number[] = [];
    old.onUnreachable((p) => unreachable.push(p));
    await old.stop();
    await old.stop();
    await expect(old.start()).rejects.toThrow(InvalidArgumentError);
    expect(muxB.groups()).toEqual([]);
    expect(b.running).toBe(true);
    a1.send([heartbeat(1, 2, "to nobody")]);
    net.flush();
    expect(oldGot).toEqual([]);
    // Sends from a stopped view are dropped.
    old.send([heartbeat(2, 1, "from a stopped view")]);
    expect(await old.sendSnapshot(snap(2, 1, 1), chunks("x"))).toBe(false);
    expect(net.pending).toBe(0);
    const fresh = muxB.view(1);
    await fresh.start();
    const got = record(fresh);
    a1.send([heartbeat(1, 2, "to the new view")]);
    net.flush();
    expect(got).toEqual(["to the new view@1"]);
    expect(oldGot).toEqual([]);
    // The stopped view hears no transport reports either.
    net.block(2, 1);
    fresh.send([heartbeat(2, 1)]);
    expect(unreachable).toEqual([]);
    expect(a.running).toBe(true);
  });

  it("fans onUnreachable out to every live view, even past one that throws", async () => {
    const { net, muxA } = await memoryPair();
    const views = [muxA.view(1), muxA.view(2), muxA.view(3)];
    const heard: string[] = [];
    views[0]?.onUnreachable(() => {
      throw new Error("a throwing view");
    });
    views[1]?.onUnreachable((p) => heard.push(`2:${p}`));
    views[2]?.onUnreachable((p) => heard.push(`3:${p}`));
    for (const v of views) v.addPeer(2, ADDR);
    net.isolate(1);
    views[1]?.send([heartbeat(1, 2)]);
    expect(heard).toEqual(["2:2", "3:2"]);
    await views[2]?.stop();
    views[1]?.send([heartbeat(1, 2)]);
    expect(heard).toEqual(["2:2", "3:2", "2:2"]);
  });

  it("leaves the control channel to the carrier's owner", async () => {
    const { net, b, muxA } = await memoryPair();
    const v = muxA.view(1);
    v.addPeer(2, ADDR);
    const control: string[] = [];
    b.addPeer(1, ADDR);
    b.onControl((from, p) => control.push(`${from}:${Buffer.from(p)}`));
    expect(() => v.onControl(() => {})).toThrow(InvalidArgumentError);
    expect(v.sendControl(2, new Uint8Array(Buffer.from("via view")))).toBe(true);
    net.flush();
    expect(control).toEqual(["1:via view"]);
  });

  it("over TCP, removing a peer from one group keeps the connection the other group uses", async () => {
    const [a, b] = (await cluster(2)) as [TcpTransport, TcpTransport];
    live.push(a, b);
    const muxA = new GroupMux(a);
    const muxB = new GroupMux(b);
    // Each carrier had its peer added directly; hand the peers to the views instead.
    a.removePeer(2);
    b.removePeer(1);
    const [a1, a2] = [muxA.view(1), muxA.view(2)];
    const [b1, b2] = [muxB.view(1), muxB.view(2)];
    for (const v of [a1, a2]) v.addPeer(2, b.address);
    for (const v of [b1, b2]) v.addPeer(1, a.address);
    const got1 = record(b1);
    const got2 = record(b2);
    await connected(a, 2);
    a1.send([heartbeat(1, 2, "g1")]);
    a2.send([heartbeat(1, 2, "g2")]);
    await waitFor(() => got1.length === 1 && got2.length === 1, "both groups");
    const attempts = a.stats().peers[0]?.connectAttempts;
    a1.removePeer(2);
    b1.removePeer(1);
    a2.send([heartbeat(1, 2, "g2 after")]);
    await waitFor(() => got2.length === 2, "group 2 after group 1 let go");
    expect(got2).toEqual(["g2@2", "g2 after@2"]);
    expect(a.stats().peers[0]).toMatchObject({ id: 2, connected: true });
    expect(a.stats().peers[0]?.connectAttempts).toBe(attempts);
  });
});
