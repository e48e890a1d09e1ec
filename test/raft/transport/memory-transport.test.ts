import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../../src/errors.js";
import { Xoshiro128 } from "../../../src/raft/core/prng.js";
import type { Message } from "../../../src/raft/core/types.js";
import { MessageType, message } from "../../../src/raft/core/types.js";
import { InvalidMessageError } from "../../../src/raft/transport/errors.js";
import { MemoryNetwork } from "../../../src/raft/transport/memory-network.js";
import type { MemoryTransport } from "../../../src/raft/transport/memory-transport.js";
import { sampleMessages } from "./helpers.js";

const NOWHERE = { host: "memory", port: 0 };

async function nodes(net: MemoryNetwork, ids: number[]): Promise<Map<number, MemoryTransport>> {
  const out = new Map<number, MemoryTransport>();
  for (const id of ids) out.set(id, net.transport(id));
  for (const t of out.values()) {
    for (const id of ids) if (id !== t.id) t.addPeer(id, NOWHERE);
    await t.start();
  }
  return out;
}

function inbox(t: MemoryTransport): Message[] {
  const got: Message[] = [];
  t.onMessage((m) => got.push(m));
  return got;
}

const hb = (from: number, to: number, context = ""): Message =>
  message({ type: MessageType.Heartbeat, to, from, term: 1, context });

describe("MemoryNetwork, manual delivery", () => {
  it("delivers in send order, only when asked", async () => {
    const net = new MemoryNetwork({ autoDeliver: false });
    const ts = await nodes(net, [1, 2, 3]);
    const at2 = inbox(ts.get(2)!);
    const at3 = inbox(ts.get(3)!);
    ts.get(1)!.send([hb(1, 2, "a"), hb(1, 3, "b"), hb(1, 2, "c")]);
    ts.get(3)!.send([hb(3, 2, "d")]);
    expect(net.pending).toBe(4);
    expect(at2).toHaveLength(0);
    expect(net.deliverNext()).toBe(true);
    expect(at2.map((m) => m.context)).toEqual(["a"]);
    expect(net.flush()).toBe(3);
    expect(at2.map((m) => m.context)).toEqual(["a", "c", "d"]);
    expect(at3.map((m) => m.context)).toEqual(["b"]);
    expect(net.deliverNext()).toBe(false);
  });

  it("carries every message type through the wire codec: the receiver gets a validated copy", async () => {
    const net = new MemoryNetwork({ autoDeliver: false });
    const ts = await nodes(net, [1, 2]);
    const got = inbox(ts.get(2)!);
    const samples = sampleMessages(1, 2).filter((m) => m.type !== MessageType.Snap);
    ts.get(1)!.send(samples);
    // The sender reuses its buffer after sending; the receiver must not see that.
    samples[1]!.entries[0]!.data.fill(0xee);
    net.flush();
    const fresh = sampleMessages(1, 2).filter((m) => m.type !== MessageType.Snap);
    expect(got).toStrictEqual(fresh);
  });

  it("refuses invalid messages like the TCP transport", async () => {
    const net = new MemoryNetwork({ autoDeliver: false });
    const ts = await nodes(net, [1, 2]);
    expect(() => ts.get(1)!.send([{ ...hb(1, 2), index: 0.5 }])).toThrow(InvalidMessageError);
    expect(() => ts.get(1)!.send([hb(1, 1)])).toThrow(InvalidArgumentError);
    expect(() => net.transport(2)).toThrow(InvalidArgumentError);
  });

  it("one-way blocks, partitions, isolation and heal", async () => {
    const net = new MemoryNetwork({ autoDeliver: false });
    const ts = await nodes(net, [1, 2, 3]);
    const at1 = inbox(ts.get(1)!);
    const at2 = inbox(ts.get(2)!);
    const unreachableFrom1: number[] = [];
    ts.get(1)!.onUnreachable((p) => unreachableFrom1.push(p));

    net.block(1, 2); // 1 cannot reach 2, 2 can still reach 1
    ts.get(1)!.send([hb(1, 2, "lost")]);
    ts.get(2)!.send([hb(2, 1, "arrives")]);
    net.flush();
    expect(at2).toHaveLength(0);
    expect(at1.map((m) => m.context)).toEqual(["arrives"]);
    expect(unreachableFrom1).toEqual([2]);
    expect(
      ts
        .get(1)!
        .stats()
        .peers.find((p) => p.id === 2)?.droppedDisconnected,
    ).toBe(1);
    expect(
      ts
        .get(1)!
        .stats()
        .peers.find((p) => p.id === 2)?.connected,
    ).toBe(false);

    net.heal();
    // A link cut while a message is in flight loses it.
    ts.get(1)!.send([hb(1, 2, "in flight")]);
    net.isolate(2);
    net.flush();
    expect(at2).toHaveLength(0);
    expect(net.lost).toBe(1);

    net.heal();
    net.partition([1], [2, 3]);
    expect(net.isBlocked(2, 1)).toBe(true);
    expect(net.isBlocked(2, 3)).toBe(false);
    net.heal();
    ts.get(1)!.send([hb(1, 2, "after heal")]);
    net.flush();
    expect(at2.map((m) => m.context)).toEqual(["after heal"]);
  });

  it("bounds messages in flight per node, counting drops", async () => {
    const net = new MemoryNetwork({ autoDeliver: false, maxInFlightPerNode: 10 });
    const ts = await nodes(net, [1, 2]);
    const unreachable: number[] = [];
    ts.get(1)!.onUnreachable((p) => unreachable.push(p));
    for (let i = 0; i < 25; i++) ts.get(1)!.send([hb(1, 2)]);
    expect(net.pending).toBe(10);
    expect(ts.get(1)!.stats().peers[0]?.droppedQueueFull).toBe(15);
    expect(unreachable).toHaveLength(15);
    net.flush();
    ts.get(1)!.send([hb(1, 2)]);
    expect(net.pending).toBe(1);
  });

  it("loses a seeded fraction of messages, identically on every run with the same seed", async () => {
    const run = async (seed: number): Promise<string[]> => {
      const net = new MemoryNetwork({ autoDeliver: false, random: new Xoshiro128(seed) });
      net.lossRate = 0.3;
      const ts = await nodes(net, [1, 2]);
      const got = inbox(ts.get(2)!);
      for (let i = 0; i < 1000; i++) ts.get(1)!.send([hb(1, 2, String(i))]);
      net.flush();
      return got.map((m) => m.context);
    };
    const first = await run(99);
    expect(await run(99)).toEqual(first);
    expect(await run(100)).not.toEqual(first);
    expect(first.length).toBeGreaterThan(600);
    expect(first.length).toBeLessThan(800);
    expect(() => {
      new MemoryNetwork().lossRate = 0.1;
    }).toThrow(/seeded/);
  });

  it("a filter hook drops chosen messages", async () => {
    const net = new MemoryNetwork({ autoDeliver: false });
    const ts = await nodes(net, [1, 2]);
    const got = inbox(ts.get(2)!);
    net.setFilter((m) => m.context !== "drop me");
    ts.get(1)!.send([hb(1, 2, "keep"), hb(1, 2, "drop me"), hb(1, 2, "keep too")]);
    net.flush();
    expect(got.map((m) => m.context)).toEqual(["keep", "keep too"]);
  });

  it("a stopped node receives nothing and its peers hear it is unreachable", async () => {
    const net = new MemoryNetwork({ autoDeliver: false });
    const ts = await nodes(net, [1, 2]);
    const unreachable: number[] = [];
    ts.get(1)!.onUnreachable((p) => unreachable.push(p));
    await ts.get(2)!.stop();
    ts.get(1)!.send([hb(1, 2)]);
    expect(unreachable).toEqual([2]);
    expect(net.pending).toBe(0);
  });

  it("a restarted node replaces its stopped transport; a running one cannot be replaced", async () => {
    const net = new MemoryNetwork({ autoDeliver: false });
    const ts = await nodes(net, [1, 2]);
    expect(() => net.transport(2)).toThrow(InvalidArgumentError);
    await ts.get(2)!.stop();
    const again = net.transport(2);
    expect(() => net.transport(2)).toThrow(InvalidArgumentError); // new, not yet started
    again.addPeer(1, NOWHERE);
    await again.start();
    const got = inbox(again);
    ts.get(1)!.send([hb(1, 2, "after restart")]);
    net.flush();
    expect(got.map((m) => m.context)).toEqual(["after restart"]);
  });
});

describe("MemoryNetwork, automatic delivery", () => {
  it("delivers on its own after the sender yields", async () => {
    const net = new MemoryNetwork();
    const ts = await nodes(net, [1, 2]);
    const got = inbox(ts.get(2)!);
    ts.get(1)!.send([hb(1, 2, "x")]);
    expect(got).toHaveLength(0);
    await new Promise((r) => setImmediate(r));
    expect(got.map((m) => m.context)).toEqual(["x"]);
  });

  it("streams a snapshot with backpressure and reports the outcome", async () => {
    const net = new MemoryNetwork({ snapshotBufferBytes: 1024 });
    const ts = await nodes(net, [1, 2]);
    const chunks: number[] = [];
    ts.get(2)!.onSnapshot(async (m, data) => {
      expect(m.snapshot?.data.byteLength).toBe(0);
      for await (const c of data) {
        chunks.push(c.byteLength);
        await new Promise((r) => setImmediate(r));
      }
    });
    const statuses: Array<[number, boolean]> = [];
    ts.get(1)!.onSnapshotStatus((p, ok) => statuses.push([p, ok]));
    let produced = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 50; i++) {
        produced++;
        yield new Uint8Array(512);
      }
    }
    const snap = sampleMessages(1, 2).find((m) => m.type === MessageType.Snap) as Message;
    expect(await ts.get(1)!.sendSnapshot(snap, source())).toBe(true);
    expect(produced).toBe(50);
    expect(chunks.reduce((a, b) => a + b, 0)).toBe(50 * 512);
    expect(statuses).toEqual([[2, true]]);
    expect(ts.get(2)!.stats().snapshotsReceived).toBe(1);
  });

  it("fails a snapshot across a cut link or to a refusing handler", async () => {
    const net = new MemoryNetwork();
    const ts = await nodes(net, [1, 2]);
    const snap = sampleMessages(1, 2).find((m) => m.type === MessageType.Snap) as Message;
    const once = async function* (): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(10);
    };
    ts.get(2)!.onSnapshot(async () => {
      throw new Error("no space");
    });
    expect(await ts.get(1)!.sendSnapshot(snap, once())).toBe(false);
    ts.get(2)!.onSnapshot(async (_, data) => {
      for await (const _c of data);
    });
    net.block(1, 2);
    expect(await ts.get(1)!.sendSnapshot(snap, once())).toBe(false);
    net.heal();
    expect(await ts.get(1)!.sendSnapshot(snap, once())).toBe(true);
    expect(ts.get(1)!.stats().peers[0]?.snapshotsFailed).toBe(2);
    expect(ts.get(1)!.stats().peers[0]?.snapshotsSent).toBe(1);
  });

  it("a snap message passed to send() is streamed from its inline data", async () => {
    const net = new MemoryNetwork();
    const ts = await nodes(net, [1, 2]);
    let got: Uint8Array[] = [];
    ts.get(2)!.onSnapshot(async (_, data) => {
      const parts: Uint8Array[] = [];
      for await (const c of data) parts.push(c);
      got = parts;
    });
    const statuses: boolean[] = [];
    ts.get(1)!.onSnapshotStatus((_, ok) => statuses.push(ok));
    ts.get(1)!.send(sampleMessages(1, 2).filter((m) => m.type === MessageType.Snap));
    const deadline = Date.now() + 5000;
    while (statuses.length === 0 && Date.now() < deadline)
      await new Promise((r) => setImmediate(r));
    expect(statuses).toEqual([true]);
    expect(Buffer.concat(got)).toEqual(Buffer.from([5, 6, 7]));
  });
});
