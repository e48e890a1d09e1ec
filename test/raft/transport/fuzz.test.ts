import { connect, type Socket } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, describe, expect, it } from "vitest";
import { Xoshiro128 } from "../../../src/raft/core/prng.js";
import type { Message } from "../../../src/raft/core/types.js";
import { MessageType, message } from "../../../src/raft/core/types.js";
import { dialPeer } from "../../../src/raft/transport/dial.js";
import {
  FrameDecodeError,
  FrameTooLargeError,
  InvalidMessageError,
} from "../../../src/raft/transport/errors.js";
import { FrameDecoder, FrameKind } from "../../../src/raft/transport/frame.js";
import { ConnectionPurpose } from "../../../src/raft/transport/handshake.js";
import type { TransportLogger } from "../../../src/raft/transport/logger.js";
import { decodeMessage, encodeMessage } from "../../../src/raft/transport/message-codec.js";
import { validateMessage } from "../../../src/raft/transport/message-validate.js";
import type { TcpTransport } from "../../../src/raft/transport/tcp-transport.js";
import { FrameFuzzer } from "./fuzz-frames.js";
import { closedWithin, cluster, connected, LOOPBACK, rawPeerContext, waitFor } from "./helpers.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const MiB = 1024 * 1024;
/** Frames sent into the live listener, unauthenticated and authenticated together. */
const LIVE_FRAMES = 100_000;

function memoryNow(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const EXPECTED_ERRORS = [FrameDecodeError, FrameTooLargeError, InvalidMessageError];
const isExpected = (err: unknown): boolean => EXPECTED_ERRORS.some((E) => err instanceof E);

/** Counts log lines by level without keeping them (tens of thousands arrive). */
class CountingLogger implements TransportLogger {
  readonly counts = { debug: 0, info: 0, warn: 0, error: 0 };
  debug(): void {
    this.counts.debug++;
  }
  info(): void {
    this.counts.info++;
  }
  warn(): void {
    this.counts.warn++;
  }
  error(): void {
    this.counts.error++;
  }
}

describe("fuzzing the frame decoder", () => {
  it("100,000 random and mutated frames: only typed errors, and what decodes is valid", () => {
    const fuzz = new FrameFuzzer(new Xoshiro128(0xc0ffee));
    const outcomes = { frames: 0, messages: 0, decodeErrors: 0, tooLarge: 0, invalid: 0 };
    for (let i = 0; i < 100_000; i++) {
      const kind = fuzz.int(10);
      const input =
        kind < 6
          ? fuzz.mutate(fuzz.validMessageFrame(5, 2))
          : kind < 7
            ? fuzz.mutate(fuzz.helloFrame())
            : kind < 9
              ? fuzz.validMessageFrame(5, 2)
              : fuzz.noise();
      const decoder = new FrameDecoder(64 * 1024);
      // Split the input at a random point, as the network might.
      const cut = fuzz.int(input.length + 1);
      try {
        for (const part of [input.subarray(0, cut), input.subarray(cut)]) {
          decoder.push(part, (frame) => {
            outcomes.frames++;
            if (frame.kind !== FrameKind.Message) return;
            const m = decodeMessage(frame.body);
            outcomes.messages++;
            // Whatever decodes is a valid message, and re-encodes to itself (compared as
            // bytes: a deep equality per message would dominate the run time).
            const again = encodeMessage(validateMessage(m, false));
            if (!Buffer.from(again).equals(encodeMessage(decodeMessage(again)))) {
              throw new Error(`decoded message does not round-trip: ${JSON.stringify(m)}`);
            }
          });
        }
      } catch (err) {
        if (!isExpected(err)) throw err;
        if (err instanceof FrameTooLargeError) outcomes.tooLarge++;
        else if (err instanceof InvalidMessageError) outcomes.invalid++;
        else outcomes.decodeErrors++;
      }
      // A frame still incomplete holds at most the limit.
      if (decoder.bufferedBytes > 64 * 1024 + 5)
        throw new Error(`decoder holds ${decoder.bufferedBytes} bytes`);
    }
    // The corpus exercised every path.
    expect(outcomes.messages).toBeGreaterThan(20_000);
    expect(outcomes.decodeErrors).toBeGreaterThan(5_000);
    expect(outcomes.invalid).toBeGreaterThan(1_000);
    expect(outcomes.tooLarge).toBeGreaterThan(1_000);
  });
});

describe("fuzzing a live listener on 127.0.0.1", () => {
  const live: TcpTransport[] = [];
  afterAll(async () => {
    await Promise.all(live.map((t) => t.stop()));
  });

  /** Sends bytes on a fresh unauthenticated connection, half-closes, and waits for the close. */
  function garbageConnection(port: number, payload: Buffer, halfClose: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket: Socket = connect(port, LOOPBACK);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error("listener left a bad connection open"));
      }, 10_000);
      socket.on("error", () => {}); // the listener may reset us mid-write
      socket.on("close", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.on("connect", () => {
        socket.write(payload);
        if (halfClose) socket.end();
      });
      socket.resume();
    });
  }

  it("closes every bad connection, stays within memory, and keeps serving", async () => {
    const logger = new CountingLogger();
    const ts = await cluster(2, (id) => ({
      maxFrameBytes: 64 * 1024,
      snapshotChunkBytes: 16 * 1024,
      handshakeTimeoutMs: 250,
      ...(id === 2 ? { logger } : {}),
    }));
    live.push(...ts);
    const [a, b] = ts as [TcpTransport, TcpTransport];
    b.addPeer(5, { host: LOOPBACK, port: 1 }); // the fuzzing client authenticates as node 5
    // Check each delivery as it arrives (keeping them all would dominate the memory measured).
    let deliveredCount = 0;
    let sawAlive = false;
    b.onMessage((m: Message) => {
      validateMessage(m, false);
      if (m.from === 1 && m.context === "alive") sawAlive = true;
      else if (m.to !== 2 || m.from !== 5)
        throw new Error(`misaddressed delivery ${m.from}->${m.to}`);
      else deliveredCount++;
    });
    const port = b.address.port;
    const fuzz = new FrameFuzzer(new Xoshiro128(0xfeed));
    const baseline = memoryNow();
    let peakGrowth = 0;
    let framesSent = 0;

    // 1. Unauthenticated: garbage, mutated hellos, lying lengths. Most connections then
    // half-close (closed as soon as the listener reads EOF, if not before); one in a hundred
    // just stops, possibly mid-frame, and must be closed by the handshake timeout.
    // A handler that throws is logged as an error, so the error count checks the deliveries.
    const connections = 1600;
    const batch = 32;
    for (let i = 0; i < connections; i += batch) {
      const work: Promise<void>[] = [];
      for (let j = 0; j < batch; j++) {
        const frames = 1 + fuzz.int(4);
        const parts: Buffer[] = [];
        for (let k = 0; k < frames; k++) {
          parts.push(fuzz.int(3) === 0 ? fuzz.noise() : fuzz.mutate(fuzz.helloFrame()));
        }
        framesSent += frames;
        const stall = (i + j) % 100 === 0;
        work.push(garbageConnection(port, Buffer.concat(parts), !stall));
      }
      await Promise.all(work);
      if (i % 320 === 0) peakGrowth = Math.max(peakGrowth, memoryNow() - baseline);
    }
    expect(b.stats().rejectedConnections).toBeGreaterThanOrEqual(connections * 0.9);

    // 2. Authenticated as node 5: valid messages with mutated ones mixed in. The first
    // frame the listener refuses closes that connection; everything it accepted must be
    // a valid message from node 5 to node 2.
    const ctx = { ...rawPeerContext(5), logger: new CountingLogger() };
    let authConnections = 0;
    let sentValid = 0;
    while (framesSent < LIVE_FRAMES) {
      const conn = await dialPeer(
        ctx,
        2,
        b.address,
        ConnectionPurpose.Messages,
        new AbortController().signal,
      );
      authConnections++;
      const frames = 10 + fuzz.int(30);
      for (let k = 0; k < frames && conn.isOpen; k++) {
        const valid = fuzz.validMessageFrame(5, 2);
        const bad = fuzz.int(10) === 0;
        conn.writeRaw(bad ? fuzz.mutate(valid) : valid);
        if (!bad) sentValid++;
        framesSent++;
      }
      conn.close(undefined, true);
      await closedWithin(conn, "fuzz connection");
      if (authConnections % 100 === 0) peakGrowth = Math.max(peakGrowth, memoryNow() - baseline);
    }

    await waitFor(() => b.stats().inboundConnections <= 1, "every fuzz connection closed");
    expect(deliveredCount).toBeGreaterThan(sentValid * 0.2);
    expect(b.stats().closedOnBadFrame).toBeGreaterThan(100);
    peakGrowth = Math.max(peakGrowth, memoryNow() - baseline);
    // About 4 MiB measured; every connection's buffers are gone once it closes.
    expect(peakGrowth).toBeLessThan(32 * MiB);
    expect(framesSent).toBeGreaterThanOrEqual(LIVE_FRAMES);
    expect(logger.counts.error).toBe(0);

    // 3. The node still serves its real peer.
    await connected(a, 2);
    a.send([message({ type: MessageType.Heartbeat, to: 2, from: 1, term: 1, context: "alive" })]);
    await waitFor(() => sawAlive, "delivery after fuzzing");
  });
});
