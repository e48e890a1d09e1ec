import { createServer as createNetServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import type { Message, NodeId } from "../core/types.js";
import { MessageType } from "../core/types.js";
import { FramedConnection } from "./connection.js";
import {
  FrameDecodeError,
  FrameTooLargeError,
  HandshakeError,
  InvalidMessageError,
  PeerProtocolError,
} from "./errors.js";
import { FrameKind } from "./frame.js";
import { splitGroupPrefix } from "./group.js";
import type { HandshakeIdentity } from "./handshake.js";
import { ConnectionPurpose, HANDSHAKE_MAX_FRAME_BYTES, serverHandshake } from "./handshake.js";
import type { TransportLogger } from "./logger.js";
import { decodeMessage } from "./message-codec.js";
import type { ResolvedTcpTransportOptions } from "./options.js";
import { PendingHandshakes } from "./pending-handshakes.js";
import { receiveSnapshot } from "./snapshot-receive.js";
import { throttledLogger } from "./throttled-logger.js";
import { channelBinding } from "./tls-context.js";
import type { SnapshotHandler } from "./transport.js";

export interface InboundContext {
  readonly options: ResolvedTcpTransportOptions;
  readonly identity: HandshakeIdentity;
  readonly logger: TransportLogger;
  isKnownPeer(id: NodeId): boolean;
  deliver(message: Message, group: number): void;
  /** A control payload from the authenticated node `from` (a copy the handler may keep). */
  deliverControl(from: NodeId, payload: Uint8Array): void;
  snapshotHandler(): SnapshotHandler | undefined;
}

const KEEPALIVE_DELAY_MS = 10_000;
/**
 * Pending connections that may claim one peer id at once: a reconnecting peer
 * needs one (two across a reconnect race); more only helps an impostor.
 */
const MAX_PENDING_PER_CLAIMED_PEER = 2;

function isBadFrame(reason: Error | undefined): boolean {
  return (
    reason instanceof FrameDecodeError ||
    reason instanceof FrameTooLargeError ||
    reason instanceof InvalidMessageError ||
    reason instanceof PeerProtocolError
  );
}

/**
 * Everything that arrives at the listener: each connection is authenticated
 * (TLS first when configured, then the secret handshake) within the
 * handshake timeout, then carries either a peer's messages or one snapshot.
 * Until authenticated a connection may only send frames of at most 1 KiB,
 * and PendingHandshakes bounds how many may wait. Every warning a remote can
 * provoke goes through a throttled logger.
 */
export class InboundConnections {
  private readonly open = new Set<FramedConnection>();
  private readonly byPeer = new Map<NodeId, Set<FramedConnection>>();
  private readonly messageConnection = new Map<NodeId, FramedConnection>();
  private readonly pending: PendingHandshakes;
  private readonly log: TransportLogger;
  /** Sockets closed to make room; their failing handshake is not counted again as a refusal. */
  private readonly displacedKeys = new Set<string>();
  private activeSnapshots = 0;
  rejectedConnections = 0;
  closedOnBadFrame = 0;
  /** Messages from an authenticated peer that spoke for another node or to another node. */
  droppedMisaddressed = 0;
  snapshotsReceived = 0;
  snapshotsReceiveFailed = 0;

  constructor(private readonly ctx: InboundContext) {
    this.log = throttledLogger(ctx.logger);
    this.pending = new PendingHandshakes({
      maxTotal: ctx.options.maxPendingHandshakes,
      maxPerHost: ctx.options.maxPendingHandshakesPerHost,
      maxPerClaimedPeer: MAX_PENDING_PER_CLAIMED_PEER,
    });
  }

  /** Connections closed to make room for newer unauthenticated ones. */
  get displacedConnections(): number {
    return this.pending.displaced;
  }

  get count(): number {
    return this.open.size;
  }

  /** The listener: plain TCP, or TLS with mutual certificate verification. */
  createServer(): Server {
    const o = this.ctx.options;
    if (o.tls === undefined) {
      return createNetServer({ noDelay: true }, (raw) => {
        if (this.admit(raw)) this.accept(raw);
      });
    }
    const server = createTlsServer({
      cert: o.tls.cert,
      key: o.tls.key,
      ca: Array.isArray(o.tls.ca) ? [...o.tls.ca] : (o.tls.ca as string | Buffer),
      minVersion: "TLSv1.2",
      requestCert: true,
      // Checked below, so that a refused certificate is logged with its reason.
      rejectUnauthorized: false,
      handshakeTimeout: o.handshakeTimeoutMs,
    });
    server.on("connection", (raw: Socket) => {
      this.admit(raw);
    });
    server.on("secureConnection", (socket: TLSSocket) => {
      if (!socket.authorized) {
        this.refuse(socket, `TLS certificate not accepted: ${String(socket.authorizationError)}`);
        return;
      }
      this.accept(socket);
    });
    server.on("tlsClientError", (err: Error, socket: TLSSocket) => {
      if (!this.pending.has(remoteKey(socket))) return; // already displaced or refused
      this.refuse(socket, `TLS handshake failed: ${err.message}`);
    });
    return server;
  }

  /**
   * Counts a new TCP connection as pending; older pending ones may give way
   * (PendingHandshakes). False for a socket already gone (no remote address).
   */
  private admit(raw: Socket): boolean {
    const host = raw.remoteAddress;
    if (host === undefined || raw.remotePort === undefined) {
      raw.destroy();
      return false;
    }
    const key = remoteKey(raw);
    this.pending.admit({ key, host, drop: (reason) => this.displace(raw, reason) });
    raw.once("close", () => {
      this.pending.release(key);
      // After the failing handshake (a microtask away) has seen the mark.
      setImmediate(() => this.displacedKeys.delete(key));
    });
    raw.setNoDelay(true);
    raw.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    return true;
  }

  /** Closes a pending connection that made room for a newer one (counted by PendingHandshakes). */
  private displace(raw: Socket, reason: string): void {
    this.displacedKeys.add(remoteKey(raw));
    this.log.warn(
      { node: this.ctx.options.nodeId, direction: "inbound", remote: remoteKey(raw), reason },
      "closing unauthenticated peer connection",
    );
    raw.destroy();
  }

  private refuse(socket: Socket, reason: string): void {
    this.rejectedConnections++;
    this.pending.release(remoteKey(socket));
    this.log.warn(
      { node: this.ctx.options.nodeId, direction: "inbound", remote: remoteKey(socket), reason },
      "refusing peer connection",
    );
    socket.destroy();
  }

  /** Runs the secret handshake on a connected (and, with TLS, verified) socket. */
  private accept(socket: Socket): void {
    const o = this.ctx.options;
    const key = remoteKey(socket);
    const conn = new FramedConnection(socket, HANDSHAKE_MAX_FRAME_BYTES, this.log, {
      node: o.nodeId,
      direction: "inbound",
      remote: key,
    });
    this.open.add(conn);
    void conn.closed.then(() => this.open.delete(conn));
    const timer = setTimeout(() => {
      conn.close(new HandshakeError("timeout", `no handshake within ${o.handshakeTimeoutMs} ms`));
    }, o.handshakeTimeoutMs);
    serverHandshake(
      conn,
      this.ctx.identity,
      (id) => o.admitUnknownPeers || this.ctx.isKnownPeer(id),
      channelBinding(socket),
      // Only a configured peer's claim leaves the anonymous pool: claims of any other id
      // (admitted with admitUnknownPeers) must not let a flood escape the per-host bounds.
      (claimed) => {
        if (this.ctx.isKnownPeer(claimed)) this.pending.claim(key, claimed);
      },
    )
      .then(
        ({ peerId, purpose }) => this.authenticated(conn, peerId, purpose),
        (err: unknown) => {
          if (!this.displacedKeys.has(key)) this.rejectedConnections++;
          conn.close(err instanceof Error ? err : new Error(String(err)), false, true);
        },
      )
      .finally(() => {
        this.pending.release(key);
        clearTimeout(timer);
      });
  }

  private authenticated(conn: FramedConnection, peerId: NodeId, purpose: ConnectionPurpose): void {
    if (!conn.isOpen) return;
    conn.logFields["peer"] = peerId;
    conn.logFields["purpose"] = purpose === ConnectionPurpose.Messages ? "messages" : "snapshot";
    conn.decoder.maxFrameBytes = this.ctx.options.maxFrameBytes;
    const set = this.byPeer.get(peerId) ?? new Set<FramedConnection>();
    this.byPeer.set(peerId, set);
    set.add(conn);
    void conn.closed.then((reason) => {
      set.delete(conn);
      if (set.size === 0 && this.byPeer.get(peerId) === set) this.byPeer.delete(peerId);
      if (this.messageConnection.get(peerId) === conn) this.messageConnection.delete(peerId);
      if (isBadFrame(reason)) this.closedOnBadFrame++;
    });
    if (purpose === ConnectionPurpose.Messages) this.receiveMessages(conn, peerId);
    else if (!this.ctx.isKnownPeer(peerId)) {
      // Admitted as a cluster member (admitUnknownPeers), but not a peer: no snapshots.
      conn.close(new Error(`refusing a snapshot from node ${peerId}, which is not a peer`));
    } else {
      const o = this.ctx.options;
      receiveSnapshot(conn, peerId, {
        selfId: o.nodeId,
        logger: this.log,
        receiveBufferBytes: o.snapshotReceiveBufferBytes,
        headerTimeoutMs: o.handshakeTimeoutMs,
        handler: () => this.ctx.snapshotHandler(),
        acquireSlot: () => {
          if (this.activeSnapshots >= o.maxConcurrentSnapshotReceives) return false;
          this.activeSnapshots++;
          return true;
        },
        releaseSlot: () => {
          this.activeSnapshots--;
        },
        outcome: (ok) => {
          if (ok) this.snapshotsReceived++;
          else this.snapshotsReceiveFailed++;
        },
      });
    }
  }

  private receiveMessages(conn: FramedConnection, peerId: NodeId): void {
    // A peer that reconnects replaces its old connection, which may be half-open.
    const previous = this.messageConnection.get(peerId);
    this.messageConnection.set(peerId, conn);
    previous?.close(new Error("replaced by a newer connection from the same peer"), true);
    const selfId = this.ctx.options.nodeId;
    conn.setFrameHandler((frame) => {
      let group = 0;
      let body: Uint8Array;
      if (frame.kind === FrameKind.Message) body = frame.body;
      else if (frame.kind === FrameKind.GroupMessage) {
        const split = splitGroupPrefix(frame.body);
        group = split.group;
        body = split.rest;
      } else if (frame.kind === FrameKind.Control) {
        // Copied: the frame may be a view of a socket chunk, and the handler may keep it.
        this.ctx.deliverControl(peerId, new Uint8Array(frame.body));
        return;
      } else {
        throw new PeerProtocolError(`unexpected frame kind ${frame.kind} on a message connection`);
      }
      const msg = decodeMessage(body, frame.owned === true);
      const misaddressed = this.ctx.isKnownPeer(peerId)
        ? addressingProblem(msg, peerId, selfId, (id) => this.ctx.isKnownPeer(id))
        : `node ${peerId} is not a peer of node ${selfId}`;
      if (misaddressed !== undefined) {
        // Dropped, not fatal to the connection: the peer proved the secret, so this is a bug
        // or a compromised member, and either way the core must never see the message.
        this.droppedMisaddressed++;
        this.log.warn(
          {
            ...conn.logFields,
            type: msg.type,
            from: msg.from,
            to: msg.to,
            group,
            reason: misaddressed,
          },
          "dropped a misaddressed peer message",
        );
        return;
      }
      if (msg.type === MessageType.Snap) {
        throw new PeerProtocolError("snap messages must be streamed on a snapshot connection");
      }
      this.ctx.deliver(msg, group);
    });
  }

  /** Closes every connection from `peerId` (the peer was removed). */
  closePeer(peerId: NodeId): void {
    for (const conn of [...(this.byPeer.get(peerId) ?? [])]) {
      conn.close(new PeerProtocolError(`node ${peerId} is no longer a peer`), true);
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.open];
    for (const conn of all) conn.close(undefined, true);
    await Promise.all(all.map((c) => c.closed));
  }
}

/** The authenticated sender may only speak for itself, and only to us; undefined when it does. */
function addressingProblem(
  msg: Message,
  peerId: NodeId,
  selfId: NodeId,
  isKnownPeer: (id: NodeId) => boolean,
): string | undefined {
  if (msg.to !== selfId) return `message addressed to node ${msg.to} arrived at node ${selfId}`;
  if (msg.from === peerId) return undefined;
  // A follower forwards a leadership transfer with the transferee, a member, in `from`.
  if (msg.type === MessageType.TransferLeader && (msg.from === selfId || isKnownPeer(msg.from))) {
    return undefined;
  }
  return `node ${peerId} sent a message claiming to be from node ${msg.from}`;
}

function remoteKey(socket: Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}
