/**
 * `npm run bench -- transport`: Raft messages between two TcpTransports on
 * 127.0.0.1, one direction, for heartbeat-sized messages and 64 KiB append
 * messages; over plain TCP and over TLS; beside a bare socket carrying the
 * same encoded frames (no codec, validation, queue or handshake), which is
 * the ceiling on this machine. The sender keeps a bounded window of messages
 * in flight so the send queue never overflows (drops are reported; they
 * should be zero). Prints a table, then one JSON line.
 */
import { randomBytes } from "node:crypto";
import { createServer, connect as netConnect } from "node:net";
import type { Message } from "../src/raft/core/types.js";
import { MessageType, message } from "../src/raft/core/types.js";
import { encodeFrame, FrameKind } from "../src/raft/transport/frame.js";
import { encodeMessage } from "../src/raft/transport/message-codec.js";
import type { TransportTlsOptions } from "../src/raft/transport/options.js";
import { TcpTransport } from "../src/raft/transport/tcp-transport.js";
import { makeTlsFiles } from "../test/raft/transport/helpers.js";

const HOST = "127.0.0.1";
const SECRET = randomBytes(32).toString("hex");

interface Workload {
  readonly name: string;
  readonly count: number;
  readonly window: number;
  readonly make: (i: number) => Message;
}

const payload64k = new Uint8Array(64 * 1024).fill(42);
const WORKLOADS: readonly Workload[] = [
  {
    name: "heartbeat",
    count: Number(process.env.TRANSPORT_BENCH_SMALL ?? 1_000_000),
    window: 2048,
    make: (i) => message({ type: MessageType.Heartbeat, to: 2, from: 1, term: 7, commit: i }),
  },
  {
    name: "append 64KiB",
    count: Number(process.env.TRANSPORT_BENCH_LARGE ?? 10_000),
    window: 256,
    make: (i) =>
      message({
        type: MessageType.App,
        to: 2,
        from: 1,
        term: 7,
        logTerm: 7,
        index: 1000 + i,
        commit: 1000 + i,
        entries: [{ term: 7, index: 1001 + i, type: 0, data: payload64k }],
      }),
  },
];

interface Result {
  readonly mode: string;
  readonly workload: string;
  readonly messages: number;
  readonly seconds: number;
  readonly messagesPerSec: number;
  readonly wireMBPerSec: number;
  readonly dropped: number;
}

function wireBytes(m: Message): number {
  return encodeMessage(m).byteLength + 5;
}

async function runTransport(mode: string, w: Workload, tls?: TransportTlsOptions): Promise<Result> {
  const common = {
    clusterId: "bench",
    secret: SECRET,
    listen: { host: HOST, port: 0 },
    ...(tls ? { tls } : {}),
  };
  const a = new TcpTransport({ ...common, nodeId: 1, maxQueuedMessages: 65_536 });
  const b = new TcpTransport({ ...common, nodeId: 2 });
  await a.start();
  await b.start();
  a.addPeer(2, b.address);
  b.addPeer(1, a.address);
  let received = 0;
  let sent = 0;
  let wake: (() => void) | undefined;
  b.onMessage(() => {
    received++;
    // Refill once half the window has drained (or at the very end).
    if (wake !== undefined && (sent - received <= w.window / 2 || received === w.count)) {
      const f = wake;
      wake = undefined;
      f();
    }
  });
  const deadline = Date.now() + 10_000;
  while (!a.stats().peers[0]?.connected) {
    if (Date.now() > deadline) throw new Error("transports did not connect");
    await new Promise((r) => setTimeout(r, 5));
  }
  const msgs = Array.from({ length: Math.min(w.count, 1024) }, (_, i) => w.make(i));
  const bytesPerMsg = wireBytes(msgs[0] as Message);
  const t0 = performance.now();
  while (received < w.count) {
    const room = Math.min(w.window - (sent - received), w.count - sent);
    if (room > 0) {
      const batch: Message[] = [];
      for (let i = 0; i < room; i++) batch.push(msgs[(sent + i) % msgs.length] as Message);
      a.send(batch);
      sent += room;
    }
    await new Promise<void>((resolve) => {
      wake = resolve;
      if (received >= w.count || (sent < w.count && sent - received <= w.window / 2)) {
        wake = undefined;
        resolve();
      }
    });
    if (performance.now() - t0 > 120_000) throw new Error(`${mode} ${w.name}: too slow, stopped`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const s = a.stats().peers[0];
  const dropped = (s?.droppedQueueFull ?? 0) + (s?.droppedDisconnected ?? 0);
  await a.stop();
  await b.stop();
  return {
    mode,
    workload: w.name,
    messages: w.count,
    seconds,
    messagesPerSec: Math.round(w.count / seconds),
    wireMBPerSec: Number(((w.count * bytesPerMsg) / seconds / 1e6).toFixed(1)),
    dropped,
  };
}

/** The same frames over a bare socket: the ceiling for this machine's loopback. */
async function runRawSocket(w: Workload): Promise<Result> {
  const frame = encodeFrame(FrameKind.Message, encodeMessage(w.make(0)));
  const perWrite = Math.max(1, Math.floor((256 * 1024) / frame.byteLength));
  const chunk = Buffer.concat(Array.from({ length: perWrite }, () => frame));
  const total = w.count * frame.byteLength;
  let receivedBytes = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const server = createServer((s) => {
    s.on("data", (d: Buffer) => {
      receivedBytes += d.byteLength;
      if (receivedBytes >= total) done();
    });
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  const port = (server.address() as { port: number }).port;
  const client = netConnect(port, HOST);
  client.setNoDelay(true);
  await new Promise<void>((r) => client.once("connect", () => r()));
  const t0 = performance.now();
  let written = 0;
  while (written < w.count) {
    const n = Math.min(perWrite, w.count - written);
    const ok = client.write(n === perWrite ? chunk : chunk.subarray(0, n * frame.byteLength));
    written += n;
    if (!ok) await new Promise((r) => client.once("drain", r));
  }
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  client.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return {
    mode: "bare socket",
    workload: w.name,
    messages: w.count,
    seconds,
    messagesPerSec: Math.round(w.count / seconds),
    wireMBPerSec: Number((total / seconds / 1e6).toFixed(1)),
    dropped: 0,
  };
}

function selfSignedTls(): TransportTlsOptions | undefined {
  try {
    const files = makeTlsFiles();
    return { cert: files.cert, key: files.key, ca: files.cert };
  } catch {
    return undefined; // no openssl: the TLS column is left out
  }
}

/** Median of REPEATS runs by throughput: single runs on a shared machine are noisy. */
const REPEATS = 3;
async function median(run: () => Promise<Result>): Promise<Result> {
  const runs: Result[] = [];
  for (let i = 0; i < REPEATS; i++) runs.push(await run());
  runs.sort((x, y) => x.messagesPerSec - y.messagesPerSec);
  return runs[Math.floor(REPEATS / 2)] as Result;
}

const tls = selfSignedTls();
const results: Result[] = [];
// Warm up the JIT on a short run of each workload.
for (const w of WORKLOADS) await runTransport("warmup", { ...w, count: Math.min(w.count, 20_000) });
for (const w of WORKLOADS) {
  results.push(await median(() => runRawSocket(w)));
  results.push(await median(() => runTransport("tcp", w)));
  if (tls !== undefined) results.push(await median(() => runTransport("tls", w, tls)));
}

console.log(
  `raft transport, one direction, 2 nodes on 127.0.0.1, bounded in-flight window, median of ${REPEATS}\n`,
);
console.log(
  "workload        mode          messages      seconds    messages/s   wire MB/s   dropped",
);
for (const r of results) {
  console.log(
    `${r.workload.padEnd(15)} ${r.mode.padEnd(12)} ${String(r.messages).padStart(9)} ${r.seconds.toFixed(2).padStart(12)} ${String(r.messagesPerSec).padStart(13)} ${r.wireMBPerSec.toFixed(1).padStart(11)} ${String(r.dropped).padStart(9)}`,
  );
}
if (tls === undefined)
  console.log("\n(tls rows skipped: openssl not available to make a certificate)");
console.log(
  JSON.stringify({
    bench: "transport",
    host: HOST,
    tls: tls !== undefined,
    repeats: REPEATS,
    results,
  }),
);
