import { createHash } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import type { Message } from "../../../src/raft/core/types.js";
import { MessageType, message } from "../../../src/raft/core/types.js";
import { dialPeer } from "../../../src/raft/transport/dial.js";
import { SnapshotStreamError } from "../../../src/raft/transport/errors.js";
import { FrameKind } from "../../../src/raft/transport/frame.js";
import { ConnectionPurpose } from "../../../src/raft/transport/handshake.js";
import { encodeMessage, packValue, unpackOne } from "../../../src/raft/transport/message-codec.js";
import type { TcpTransport } from "../../../src/raft/transport/tcp-transport.js";
import { cluster, connected, LOOPBACK, rawPeerContext, waitFor } from "./helpers.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
/** A full collection whose freed ArrayBuffers are also swept: the second GC finishes the first's sweeping. */
function settledGc(): void {
  gc();
  gc();
}

const live: TcpTransport[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((t) => t.stop()));
});

async function pair(
  extra: Parameters<typeof cluster>[1] = () => ({}),
): Promise<[TcpTransport, TcpTransport]> {
  const ts = await cluster(2, extra);
  live.push(...ts);
  return ts as [TcpTransport, TcpTransport];
}

function snapMessage(from: number, to: number, index = 1000): Message {
  return message({
    type: MessageType.Snap,
    to,
    from,
    term: 4,
    snapshot: {
      metadata: {
        index,
        term: 3,
        confState: {
          voters: [1, 2],
          votersOutgoing: [],
          learners: [],
          learnersNext: [],
          autoLeave: false,
        },
      },
      data: new Uint8Array(0),
    },
  });
}

/** Seeded pseudo-random bytes, produced chunk by chunk: the whole never exists at once. */
async function* generated(
  totalBytes: number,
  chunkBytes: number,
  seed: number,
): AsyncGenerator<Uint8Array> {
  let x = seed >>> 0 || 1;
  for (let at = 0; at < totalBytes; at += chunkBytes) {
    const n = Math.min(chunkBytes, totalBytes - at);
    const words = new Uint32Array(Math.ceil(n / 4));
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    yield new Uint8Array(words.buffer, 0, n);
  }
}

async function digestOf(
  source: AsyncIterable<Uint8Array>,
): Promise<{ bytes: number; sha256: string }> {
  const h = createHash("sha256");
  let bytes = 0;
  for await (const c of source) {
    h.update(c);
    bytes += c.byteLength;
  }
  return { bytes, sha256: h.digest("hex") };
}

const MiB = 1024 * 1024;

describe("snapshot streaming", () => {
  it("streams 50 MB to a slow consumer with bounded memory, intact", async () => {
    const [a, b] = await pair();
    const total = 50 * MiB;
    const expected = await digestOf(generated(total, 1 * MiB, 7));
    let received = { bytes: 0, sha256: "" };
    let peakGrowth = 0;
    let gotMessage: Message | undefined;
    settledGc();
    const baseline = process.memoryUsage();
    const base = baseline.heapUsed + baseline.arrayBuffers;
    b.onSnapshot(async (m, data) => {
      gotMessage = m;
      const h = createHash("sha256");
      let bytes = 0;
      let chunks = 0;
      for await (const chunk of data) {
        h.update(chunk);
        bytes += chunk.byteLength;
        chunks++;
        // A slow disk: far slower than loopback, so without backpressure the backlog would pile up here.
        if (chunks % 4 === 0) await new Promise((r) => setTimeout(r, 2));
        if (chunks % 32 === 0) {
          settledGc();
          const m = process.memoryUsage();
          peakGrowth = Math.max(peakGrowth, m.heapUsed + m.arrayBuffers - base);
        }
      }
      received = { bytes, sha256: h.digest("hex") };
    });
    const statuses: boolean[] = [];
    a.onSnapshotStatus((_, ok) => statuses.push(ok));
    await connected(a, 2);
    const ok = await a.sendSnapshot(snapMessage(1, 2), generated(total, 1 * MiB, 7));
    expect(ok).toBe(true);
    expect(statuses).toEqual([true]);
    expect(received).toEqual(expected);
    expect(gotMessage?.snapshot?.metadata.index).toBe(1000);
    expect(gotMessage?.snapshot?.data.byteLength).toBe(0);
    // Receive buffer (1 MiB) + the sender's current 1 MiB chunk + a frame or two: about 3 MiB
    // measured. Without backpressure the same run peaks at about 25 MiB.
    expect(peakGrowth).toBeLessThan(8 * MiB);
    expect(b.stats().snapshotsReceived).toBe(1);
  });

  it("a refusing handler makes the send fail, and the status says so", async () => {
    const [a, b] = await pair();
    b.onSnapshot(async () => {
      throw new Error("disk full");
    });
    const statuses: Array<[number, boolean]> = [];
    a.onSnapshotStatus((p, ok) => statuses.push([p, ok]));
    await connected(a, 2);
    expect(await a.sendSnapshot(snapMessage(1, 2), generated(4 * MiB, 64 * 1024, 1))).toBe(false);
    expect(statuses).toEqual([[2, false]]);
    expect(a.stats().peers[0]?.snapshotsFailed).toBe(1);
    expect(b.stats().snapshotsReceiveFailed).toBe(1);
  });

  it("a handler that returns without reading to the end does not count as installed", async () => {
    const [a, b] = await pair();
    b.onSnapshot(async (_, data) => {
      for await (const _chunk of data) break;
    });
    await connected(a, 2);
    expect(await a.sendSnapshot(snapMessage(1, 2), generated(2 * MiB, 64 * 1024, 2))).toBe(false);
  });

  it("fails without a snapshot handler", async () => {
    const [a] = await pair();
    await connected(a, 2);
    expect(await a.sendSnapshot(snapMessage(1, 2), generated(1000, 1000, 3))).toBe(false);
  });

  it("a source that throws fails the send and the receiver's stream", async () => {
    const [a, b] = await pair();
    let receiverError: unknown;
    b.onSnapshot(async (_, data) => {
      try {
        await digestOf(data);
      } catch (err) {
        receiverError = err;
        throw err;
      }
    });
    await connected(a, 2);
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(100_000);
      throw new Error("storage read failed");
    }
    expect(await a.sendSnapshot(snapMessage(1, 2), broken())).toBe(false);
    await waitFor(() => receiverError !== undefined, "receiver sees the broken stream");
    expect(receiverError).toBeInstanceOf(SnapshotStreamError);
  });

  it("an abort signal stops the send", async () => {
    const [a, b] = await pair();
    b.onSnapshot(async (_, data) => {
      await digestOf(data);
    });
    await connected(a, 2);
    const abort = new AbortController();
    async function* slow(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 1000; i++) {
        if (i === 3) abort.abort();
        yield new Uint8Array(10_000);
        await new Promise((r) => setImmediate(r));
      }
    }
    expect(await a.sendSnapshot(snapMessage(1, 2), slow(), { signal: abort.signal })).toBe(false);
  });

  it("allows one snapshot per peer in flight; a second fails at once", async () => {
    const [a, b] = await pair();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    b.onSnapshot(async (_, data) => {
      await gate;
      await digestOf(data);
    });
    await connected(a, 2);
    const first = a.sendSnapshot(snapMessage(1, 2), generated(10_000, 1000, 4));
    expect(await a.sendSnapshot(snapMessage(1, 2), generated(10, 10, 5))).toBe(false);
    release();
    expect(await first).toBe(true);
  });

  it("refuses snapshots beyond maxConcurrentSnapshotReceives", async () => {
    const ts = await cluster(3, () => ({ maxConcurrentSnapshotReceives: 1 }));
    live.push(...ts);
    const [a, b, c] = ts as [TcpTransport, TcpTransport, TcpTransport];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let started = 0;
    b.onSnapshot(async (_, data) => {
      started++;
      await gate;
      await digestOf(data);
    });
    await connected(a, 2);
    await connected(c, 2);
    const first = a.sendSnapshot(snapMessage(1, 2), generated(10_000, 1000, 4));
    await waitFor(() => started === 1, "first snapshot under way");
    expect(await c.sendSnapshot(snapMessage(3, 2), generated(10, 10, 5))).toBe(false);
    release();
    expect(await first).toBe(true);
  });

  describe("from a hand-driven sender", () => {
    async function rawSnapshotConnection(b: TcpTransport) {
      return dialPeer(
        rawPeerContext(1),
        2,
        b.address,
        ConnectionPurpose.Snapshot,
        new AbortController().signal,
      );
    }

    async function receiverOutcome(
      write: (conn: Awaited<ReturnType<typeof rawSnapshotConnection>>) => void,
      closeAfter = false,
    ): Promise<{ error: unknown; ack: unknown }> {
      const [, b] = await pair();
      let error: unknown;
      let done = false;
      b.onSnapshot(async (_, data) => {
        try {
          await digestOf(data);
        } catch (err) {
          error = err;
          throw err;
        } finally {
          done = true;
        }
      });
      const conn = await rawSnapshotConnection(b);
      conn.writeFrame(FrameKind.SnapshotBegin, encodeMessage(snapMessage(1, 2)));
      write(conn);
      if (closeAfter) {
        await waitFor(
          () => b.stats().snapshotsReceived + b.stats().snapshotsReceiveFailed === 0,
          "started",
        );
        conn.close(undefined, true);
        await waitFor(() => done, "handler finished");
        return { error, ack: undefined };
      }
      const ack = unpackOne((await conn.receive()).body, "ack");
      await waitFor(() => done, "handler finished");
      return { error, ack };
    }

    it("a digest mismatch fails the receiver's stream and the acknowledgement", async () => {
      const { error, ack } = await receiverOutcome((conn) => {
        conn.writeFrame(FrameKind.SnapshotChunk, new Uint8Array(1000).fill(1));
        conn.writeFrame(FrameKind.SnapshotEnd, packValue([1000, new Uint8Array(32)]));
      });
      expect(error).toBeInstanceOf(SnapshotStreamError);
      expect(String(error)).toMatch(/SHA-256/);
      expect(ack).toEqual([false, expect.stringMatching(/SHA-256/)]);
    });

    it("a byte count mismatch fails the stream", async () => {
      const body = new Uint8Array(1000).fill(1);
      const digest = createHash("sha256").update(body).digest();
      const { error, ack } = await receiverOutcome((conn) => {
        conn.writeFrame(FrameKind.SnapshotChunk, body);
        conn.writeFrame(FrameKind.SnapshotEnd, packValue([999, digest]));
      });
      expect(String(error)).toMatch(/sent 999 bytes, 1000 arrived/);
      expect((ack as unknown[])[0]).toBe(false);
    });

    it("a stream cut short by a closed connection fails the stream", async () => {
      const { error } = await receiverOutcome((conn) => {
        conn.writeFrame(FrameKind.SnapshotChunk, new Uint8Array(5000));
      }, true);
      expect(error).toBeInstanceOf(SnapshotStreamError);
      expect(String(error)).toMatch(/connection closed after/);
    });

    it("a correct hand-made stream is acknowledged", async () => {
      const body = new Uint8Array(3000).fill(7);
      const digest = createHash("sha256").update(body).digest();
      const { error, ack } = await receiverOutcome((conn) => {
        conn.writeFrame(FrameKind.SnapshotChunk, body.subarray(0, 1000));
        conn.writeFrame(FrameKind.SnapshotChunk, body.subarray(1000));
        conn.writeFrame(FrameKind.SnapshotEnd, packValue([3000, digest]));
      });
      expect(error).toBeUndefined();
      expect(ack).toEqual([true, ""]);
    });
  });
});

describe("snapshot to an unreachable peer", () => {
  it("fails fast and reports the status", async () => {
    const [a] = await pair();
    a.addPeer(9, { host: LOOPBACK, port: 1 });
    const statuses: Array<[number, boolean]> = [];
    a.onSnapshotStatus((p, ok) => statuses.push([p, ok]));
    expect(await a.sendSnapshot(snapMessage(1, 9), generated(10, 10, 1))).toBe(false);
    expect(statuses).toEqual([[9, false]]);
  });
});
