import { InvalidArgumentError } from "../../errors.js";
import type { Random } from "../core/prng.js";
import type { NodeId } from "../core/types.js";
import type { BackoffOptions } from "./backoff.js";
import { DEFAULT_BACKOFF, validateBackoff } from "./backoff.js";
import { HANDSHAKE_MAX_FRAME_BYTES, MAX_CLUSTER_ID_BYTES } from "./handshake.js";
import type { TransportLogger } from "./logger.js";
import { silentLogger } from "./logger.js";
import type { PeerAddress } from "./transport.js";

export interface TransportTlsOptions {
  /** This node's certificate chain (PEM). */
  readonly cert: string | Buffer;
  /** This node's private key (PEM). */
  readonly key: string | Buffer;
  /** The CA(s) that sign peer certificates. Both directions are verified (mutual TLS). */
  readonly ca: string | Buffer | ReadonlyArray<string | Buffer>;
  /**
   * Check that a peer's certificate names the host it was dialed at
   * (default true). Turn off when certificates name nodes, not addresses;
   * peers are still verified against `ca` and by the secret handshake.
   */
  readonly verifyHostname?: boolean;
}

export interface TcpTransportOptions {
  readonly nodeId: NodeId;
  /** Both ends of every connection must agree on it. At most 256 UTF-8 bytes. */
  readonly clusterId: string;
  /**
   * Shared by every node of the cluster; at least 32 bytes. Never sent.
   * Required unless `tls` is set (peers are then authenticated by their
   * certificates alone) or `unauthenticatedPeers` is.
   */
  readonly secret?: string | Uint8Array;
  /**
   * Development only: run the handshake without any secret, so anyone who
   * can reach the listener can speak for a peer. Needs no secret and no TLS.
   */
  readonly unauthenticatedPeers?: boolean;
  /**
   * Complete the handshake with any node of the cluster (one that proves the
   * secret, or holds a certificate signed by `ca`), not only with added
   * peers. Such a node's connection delivers only its control payloads
   * (onControl) until it is added; its Raft messages are dropped (counted in
   * `droppedMisaddressed`) and its snapshots refused. For a node that must
   * hear a new node announce itself. Default false: only added peers may
   * connect.
   */
  readonly admitUnknownPeers?: boolean;
  /**
   * Write what was sent to a peer once per turn of the event loop rather than
   * on every send: with many Raft groups per process, their messages to one
   * peer share a write (a heartbeat of each group, sent in one tick). Adds
   * at most one loop turn of delay. Default false.
   */
  readonly coalesceWrites?: boolean;
  /** Where to listen; port 0 picks a free port (see TcpTransport.address). */
  readonly listen: PeerAddress;
  /** When set, every connection is TLS with mutual certificate verification. */
  readonly tls?: TransportTlsOptions;
  /** Largest frame accepted or sent, kind byte + body. Default 16 MiB. */
  readonly maxFrameBytes?: number;
  /** Per-peer send queue bound in messages. Default 4096. */
  readonly maxQueuedMessages?: number;
  /** Per-peer send queue bound in bytes. Default 64 MiB. */
  readonly maxQueuedBytes?: number;
  /** Connect + TLS + handshake must finish within this. Default 5000. */
  readonly handshakeTimeoutMs?: number;
  /** Snapshot bytes per chunk frame. Default 256 KiB. */
  readonly snapshotChunkBytes?: number;
  /** Snapshot bytes a receiver buffers before it stops reading the socket. Default 1 MiB. */
  readonly snapshotReceiveBufferBytes?: number;
  /** How long a sender waits for the receiver to store a fully sent snapshot. Default 120000. */
  readonly snapshotAckTimeoutMs?: number;
  /** Snapshots received at once; more are refused (the leader retries). Default 2. */
  readonly maxConcurrentSnapshotReceives?: number;
  /**
   * Incoming connections not yet authenticated, in total. A new connection
   * beyond it displaces the oldest one from the remote host holding the most,
   * so a flood from one host cannot keep others out. Default 64.
   */
  readonly maxPendingHandshakes?: number;
  /** Incoming connections not yet authenticated from one remote host; the oldest gives way. Default 16. */
  readonly maxPendingHandshakesPerHost?: number;
  readonly backoff?: Partial<BackoffOptions>;
  /** pino-compatible; default silent. */
  readonly logger?: TransportLogger;
  /** Jitter source for reconnect backoff; default Math.random. */
  readonly random?: Random;
}

export interface ResolvedTcpTransportOptions {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  /** Empty when peers are authenticated by TLS alone, or not at all. */
  readonly secret: Buffer;
  readonly unauthenticatedPeers: boolean;
  readonly admitUnknownPeers: boolean;
  readonly coalesceWrites: boolean;
  readonly listen: PeerAddress;
  readonly tls: TransportTlsOptions | undefined;
  readonly maxFrameBytes: number;
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly snapshotChunkBytes: number;
  readonly snapshotReceiveBufferBytes: number;
  readonly snapshotAckTimeoutMs: number;
  readonly maxConcurrentSnapshotReceives: number;
  readonly maxPendingHandshakes: number;
  readonly maxPendingHandshakesPerHost: number;
  readonly backoff: BackoffOptions;
  readonly logger: TransportLogger;
  readonly random: Random;
}

const MiB = 1024 * 1024;
export const MIN_SECRET_BYTES = 32;
/** Default largest frame (kind byte + body); also the MemoryTransport's control payload bound. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * MiB;
/** Frames never exceed what a u32 length can say, nor Node's Buffer limits. */
const MAX_FRAME_BYTES_LIMIT = 1024 * MiB;

const mathRandom: Random = {
  int: (bound) => Math.floor(Math.random() * bound),
  float: () => Math.random(),
};

function positiveInt(
  name: string,
  v: unknown,
  fallback: number,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new InvalidArgumentError(
      `transport option ${name} must be an integer in [${min}, ${max}], got ${String(v)}`,
    );
  }
  return v;
}

function booleanOption(name: string, v: unknown): boolean {
  if (v !== undefined && typeof v !== "boolean") {
    throw new InvalidArgumentError(`transport option ${name} must be a boolean`);
  }
  return v === true;
}

export function validatePeerId(id: unknown, what = "peer id"): NodeId {
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id <= 0) {
    throw new InvalidArgumentError(`${what} must be a positive integer, got ${String(id)}`);
  }
  return id;
}

export function validateAddress(address: unknown, what = "address"): PeerAddress {
  if (typeof address !== "object" || address === null) {
    throw new InvalidArgumentError(`${what} must be an object { host, port }`);
  }
  const { host, port } = address as Record<string, unknown>;
  if (typeof host !== "string" || host.length === 0) {
    throw new InvalidArgumentError(`${what}.host must be a non-empty string`);
  }
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(
      `${what}.port must be an integer in [0, 65535], got ${String(port)}`,
    );
  }
  return { host, port };
}

/** Parses "host:port" or "[ipv6]:port". */
export function parsePeerAddress(text: string): PeerAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  if (m === null)
    throw new InvalidArgumentError(`peer address must be host:port, got ${JSON.stringify(text)}`);
  return validateAddress({ host: m[1] ?? m[2], port: Number(m[3]) }, "peer address");
}

export function resolveTcpTransportOptions(o: TcpTransportOptions): ResolvedTcpTransportOptions {
  if (typeof o !== "object" || o === null)
    throw new InvalidArgumentError("transport options are required");
  const nodeId = validatePeerId(o.nodeId, "transport option nodeId");
  if (typeof o.clusterId !== "string" || o.clusterId.length === 0) {
    throw new InvalidArgumentError("transport option clusterId must be a non-empty string");
  }
  if (Buffer.byteLength(o.clusterId) > MAX_CLUSTER_ID_BYTES) {
    throw new InvalidArgumentError(
      `transport option clusterId must be at most ${MAX_CLUSTER_ID_BYTES} bytes`,
    );
  }
  const secret = resolveSecret(o);
  const maxFrameBytes = positiveInt(
    "maxFrameBytes",
    o.maxFrameBytes,
    DEFAULT_MAX_FRAME_BYTES,
    HANDSHAKE_MAX_FRAME_BYTES,
    MAX_FRAME_BYTES_LIMIT,
  );
  const snapshotChunkBytes = positiveInt("snapshotChunkBytes", o.snapshotChunkBytes, 256 * 1024);
  if (snapshotChunkBytes + 1 > maxFrameBytes) {
    throw new InvalidArgumentError(
      `transport option snapshotChunkBytes (${snapshotChunkBytes}) must fit in maxFrameBytes (${maxFrameBytes})`,
    );
  }
  if (o.tls !== undefined) {
    const { cert, key, ca } = o.tls;
    if (cert === undefined || key === undefined || ca === undefined) {
      throw new InvalidArgumentError("transport option tls needs cert, key and ca");
    }
  }
  if (o.logger !== undefined && typeof o.logger?.warn !== "function") {
    throw new InvalidArgumentError(
      "transport option logger must have debug/info/warn/error methods",
    );
  }
  return {
    nodeId,
    clusterId: o.clusterId,
    secret,
    unauthenticatedPeers: o.unauthenticatedPeers === true,
    admitUnknownPeers: booleanOption("admitUnknownPeers", o.admitUnknownPeers),
    coalesceWrites: booleanOption("coalesceWrites", o.coalesceWrites),
    listen: validateAddress(o.listen, "transport option listen"),
    tls: o.tls,
    maxFrameBytes,
    maxQueuedMessages: positiveInt("maxQueuedMessages", o.maxQueuedMessages, 4096),
    maxQueuedBytes: positiveInt("maxQueuedBytes", o.maxQueuedBytes, 64 * MiB),
    handshakeTimeoutMs: positiveInt("handshakeTimeoutMs", o.handshakeTimeoutMs, 5000),
    snapshotChunkBytes,
    snapshotReceiveBufferBytes: positiveInt(
      "snapshotReceiveBufferBytes",
      o.snapshotReceiveBufferBytes,
      MiB,
    ),
    snapshotAckTimeoutMs: positiveInt("snapshotAckTimeoutMs", o.snapshotAckTimeoutMs, 120_000),
    maxConcurrentSnapshotReceives: positiveInt(
      "maxConcurrentSnapshotReceives",
      o.maxConcurrentSnapshotReceives,
      2,
    ),
    maxPendingHandshakes: positiveInt("maxPendingHandshakes", o.maxPendingHandshakes, 64),
    maxPendingHandshakesPerHost: positiveInt(
      "maxPendingHandshakesPerHost",
      o.maxPendingHandshakesPerHost,
      16,
    ),
    backoff: validateBackoff({ ...DEFAULT_BACKOFF, ...o.backoff }),
    logger: o.logger ?? silentLogger,
    random: o.random ?? mathRandom,
  };
}

/** Whether only this machine can reach `host`: localhost, ::1 or 127.0.0.0/8. */
export function isLoopbackHost(host: unknown): boolean {
  if (typeof host !== "string") return false;
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The HMAC key: the configured secret, or empty where TLS (or nothing, by choice) authenticates. */
function resolveSecret(o: TcpTransportOptions): Buffer {
  if (o.unauthenticatedPeers !== undefined && typeof o.unauthenticatedPeers !== "boolean") {
    throw new InvalidArgumentError("transport option unauthenticatedPeers must be a boolean");
  }
  if (o.unauthenticatedPeers === true) {
    if (o.secret !== undefined || o.tls !== undefined) {
      throw new InvalidArgumentError(
        "transport option unauthenticatedPeers cannot be combined with a secret or tls",
      );
    }
    const host = (o.listen as Partial<PeerAddress> | undefined)?.host;
    if (!isLoopbackHost(host)) {
      throw new InvalidArgumentError(
        `transport option unauthenticatedPeers needs a loopback listen address, got ${String(host)}`,
      );
    }
    return Buffer.alloc(0);
  }
  if (o.secret === undefined) {
    if (o.tls !== undefined) return Buffer.alloc(0);
    throw new InvalidArgumentError(
      "transport option secret is required unless tls authenticates peers",
    );
  }
  let secret: Buffer;
  if (typeof o.secret === "string") secret = Buffer.from(o.secret, "utf8");
  else if (o.secret instanceof Uint8Array) secret = Buffer.from(o.secret);
  else throw new InvalidArgumentError("transport option secret must be a string or Uint8Array");
  if (secret.byteLength < MIN_SECRET_BYTES) {
    throw new InvalidArgumentError(
      `transport option secret must be at least ${MIN_SECRET_BYTES} bytes, got ${secret.byteLength}`,
    );
  }
  return secret;
}
