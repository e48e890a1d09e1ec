import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_INDEX } from "../../../src/raft/core/limits.js";
import type { Entry, Message } from "../../../src/raft/core/types.js";
import { EntryType, MessageType, message } from "../../../src/raft/core/types.js";
import type { FramedConnection } from "../../../src/raft/transport/connection.js";
import type { DialContext } from "../../../src/raft/transport/dial.js";
import type { TransportLogger } from "../../../src/raft/transport/logger.js";
import type { TcpTransportOptions } from "../../../src/raft/transport/options.js";
import { resolveTcpTransportOptions } from "../../../src/raft/transport/options.js";
import { TcpTransport } from "../../../src/raft/transport/tcp-transport.js";

/** A test-only secret of the shape `conclave start` generates (32 bytes, hex). */
export const SECRET = "5b0e3f4c9a2d71e8c6f1049b3ad27e5c8f60a1b4d93e7c2f05a8b6d1e4c97f3a";
export const CLUSTER = "test-cluster";
export const LOOPBACK = "127.0.0.1";

export interface LogLine {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

/** Keeps every log line so tests can assert that a reason was logged. */
export class RecordingLogger implements TransportLogger {
  readonly lines: LogLine[] = [];
  debug(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: "debug", fields, message });
  }
  info(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: "info", fields, message });
  }
  warn(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: "warn", fields, message });
  }
  error(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: "error", fields, message });
  }
  /** Lines whose message or reason contains `text`. */
  find(text: string): LogLine[] {
    return this.lines.filter(
      (l) => l.message.includes(text) || String(l.fields["reason"] ?? "").includes(text),
    );
  }
}

/**
 * Polls `condition` until it holds, failing after `timeoutMs`. For
 * asynchronous effects (a connection coming up, a frame arriving) with a
 * hard deadline, never a fixed sleep.
 */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function transport(nodeId: number, extra: Partial<TcpTransportOptions> = {}): TcpTransport {
  return new TcpTransport({
    nodeId,
    clusterId: CLUSTER,
    secret: SECRET,
    listen: { host: LOOPBACK, port: 0 },
    backoff: { initialDelayMs: 10, maxDelayMs: 200, multiplier: 2, jitter: 0.5 },
    ...extra,
  });
}

/** Starts transports for ids 1..n, every one a peer of every other. */
export async function cluster(
  n: number,
  extra: (id: number) => Partial<TcpTransportOptions> = () => ({}),
): Promise<TcpTransport[]> {
  const ts = Array.from({ length: n }, (_, i) => transport(i + 1, extra(i + 1)));
  for (const t of ts) await t.start();
  for (const t of ts) for (const u of ts) if (t !== u) t.addPeer(u.id, u.address);
  return ts;
}

export async function connected(from: TcpTransport, to: number): Promise<void> {
  await waitFor(
    () => from.stats().peers.find((p) => p.id === to)?.connected === true,
    `node ${from.id} connected to ${to}`,
  );
}

export function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

const entry = (term: number, index: number, data: Uint8Array, type = EntryType.Normal): Entry => ({
  term,
  index,
  type,
  data,
});

/** One message of every type that may cross the network, with every field set. */
export function sampleMessages(from: number, to: number): Message[] {
  const confState = {
    voters: [1, 2, 3],
    votersOutgoing: [1, 2],
    learners: [4],
    learnersNext: [2],
    autoLeave: true,
  };
  return [
    message({ type: MessageType.Prop, to, from, entries: [entry(0, 0, bytes(1, 2, 3))] }),
    message({
      type: MessageType.App,
      to,
      from,
      term: 7,
      logTerm: 6,
      index: 41,
      commit: 40,
      entries: [
        entry(7, 42, bytes(0, 255, 128)),
        entry(7, 43, new Uint8Array(0), EntryType.ConfChange),
        entry(7, 44, new Uint8Array(1000).fill(9)),
      ],
    }),
    message({
      type: MessageType.AppResp,
      to,
      from,
      term: 7,
      index: 44,
      reject: true,
      rejectHint: 30,
      logTerm: 5,
    }),
    message({
      type: MessageType.Vote,
      to,
      from,
      term: 8,
      logTerm: 7,
      index: 44,
      context: "transfer",
    }),
    message({ type: MessageType.VoteResp, to, from, term: 8, reject: false }),
    message({ type: MessageType.PreVote, to, from, term: 9, logTerm: 7, index: 44 }),
    message({ type: MessageType.PreVoteResp, to, from, term: 9, reject: true }),
    message({
      type: MessageType.Snap,
      to,
      from,
      term: 7,
      snapshot: { metadata: { index: 100, term: 6, confState }, data: bytes(5, 6, 7) },
    }),
    message({ type: MessageType.Heartbeat, to, from, term: 7, commit: 40, context: "rd-1" }),
    message({ type: MessageType.HeartbeatResp, to, from, term: 7, context: "rd-1" }),
    message({ type: MessageType.TransferLeader, to, from, term: 7 }),
    message({ type: MessageType.TimeoutNow, to, from, term: 7 }),
    message({ type: MessageType.ReadIndex, to, from, context: "req-9" }),
    message({
      type: MessageType.ReadIndexResp,
      to,
      from,
      term: 7,
      index: MAX_INDEX,
      context: "req-9",
    }),
  ];
}

export interface TlsFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** A second, unrelated self-signed pair: a peer using it must be refused. */
  readonly otherCert: Buffer;
  readonly otherKey: Buffer;
  /** Names only node.conclave.test, not the loopback address peers dial. */
  readonly namedCert: Buffer;
  readonly namedKey: Buffer;
}

/**
 * Self-signed certificates made with the system's openssl (Debian's base
 * image has it): no key material lives in the repository, and each run uses
 * fresh keys.
 */
export function makeTlsFiles(): TlsFiles {
  const dir = mkdtempSync(join(tmpdir(), "conclave-tls-"));
  try {
    const make = (name: string, subjectAltName = "IP:127.0.0.1,DNS:localhost"): void => {
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-keyout",
          join(dir, `${name}.key`),
          "-out",
          join(dir, `${name}.crt`),
          "-days",
          "2",
          "-subj",
          `/CN=conclave-${name}`,
          "-addext",
          `subjectAltName=${subjectAltName}`,
        ],
        { stdio: "pipe" },
      );
    };
    make("node");
    make("other");
    make("named", "DNS:node.conclave.test");
    return {
      cert: readFileSync(join(dir, "node.crt")),
      key: readFileSync(join(dir, "node.key")),
      otherCert: readFileSync(join(dir, "other.crt")),
      otherKey: readFileSync(join(dir, "other.key")),
      namedCert: readFileSync(join(dir, "named.crt")),
      namedKey: readFileSync(join(dir, "named.key")),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A TCP relay that records every byte passing in either direction. */
export class RecordingProxy {
  readonly captured: Buffer[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => {
      const upstream = netConnect(this.target);
      this.sockets.add(client).add(upstream);
      client.on("data", (d) => {
        this.captured.push(Buffer.from(d));
        upstream.write(d);
      });
      upstream.on("data", (d) => {
        this.captured.push(Buffer.from(d));
        client.write(d);
      });
      const end = (): void => {
        client.destroy();
        upstream.destroy();
      };
      for (const s of [client, upstream]) {
        s.on("error", end);
        s.on("close", () => {
          this.sockets.delete(s);
          end();
        });
      }
    });
  }

  async start(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve) => this.server.listen(0, LOOPBACK, resolve));
    const a = this.server.address();
    if (typeof a !== "object" || a === null) throw new Error("proxy has no address");
    return { host: LOOPBACK, port: a.port };
  }

  bytes(): Buffer {
    return Buffer.concat(this.captured);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** What a test needs to open its own authenticated connections (a hand-driven peer). */
export function rawPeerContext(
  nodeId: number,
  extra: Partial<TcpTransportOptions> = {},
): DialContext {
  const options = resolveTcpTransportOptions({
    nodeId,
    clusterId: CLUSTER,
    secret: SECRET,
    listen: { host: LOOPBACK, port: 0 },
    ...extra,
  });
  return {
    options,
    identity: { clusterId: options.clusterId, nodeId, secret: options.secret },
    secureContext: undefined,
    logger: new RecordingLogger(),
  };
}

/** Resolves when the connection is closed (by the other side or by us). */
export function closedWithin(
  conn: FramedConnection,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  return Promise.race([
    conn.closed.then(() => undefined),
    new Promise<void>((_, reject) =>
      setTimeout(
        () => reject(new Error(`${what}: connection still open after ${timeoutMs} ms`)),
        timeoutMs,
      ).unref(),
    ),
  ]);
}
