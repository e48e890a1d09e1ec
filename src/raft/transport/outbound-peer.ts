import type { NodeId } from "../core/types.js";
import { Backoff } from "./backoff.js";
import type { FramedConnection } from "./connection.js";
import { type DialContext, dialPeer } from "./dial.js";
import { HandshakeError, PeerProtocolError } from "./errors.js";
import { ConnectionPurpose } from "./handshake.js";
import { frameByteLength, type QueuedFrame, SendQueue } from "./send-queue.js";
import type { PeerAddress, PeerStats } from "./transport.js";

export interface OutboundPeerContext extends DialContext {
  readonly reportUnreachable: (peer: NodeId) => void;
}

export type EnqueueResult = "queued" | "full" | "down";

type State = "idle" | "connecting" | "connected" | "backoff" | "stopped";

/** A connection up this long counts as a success that resets the reconnect backoff. */
const STABLE_CONNECTION_MS = 1000;

/**
 * The connection that carries this node's messages to one peer, and the
 * bounded queue in front of it. Messages wait in the queue only while a
 * connection is up or being attempted; when an attempt fails or a live
 * connection breaks, the queue is dropped (Raft resends what matters) and the
 * peer is reported unreachable, and until the next attempt new messages are
 * dropped too. Reconnects back off exponentially with jitter.
 */
export class OutboundPeer {
  private state: State = "idle";
  private conn: FramedConnection | undefined;
  private readonly queue: SendQueue;
  private readonly backoff: Backoff;
  private retryTimer: NodeJS.Timeout | undefined;
  private dialAbort = new AbortController();
  private connectedAtMs = 0;
  private sentMessages = 0;
  private sentBytes = 0;
  private droppedQueueFull = 0;
  private droppedDisconnected = 0;
  private connectAttempts = 0;
  private connectFailures = 0;
  private handshakeFailure: string | undefined;
  snapshotsSent = 0;
  snapshotsFailed = 0;

  constructor(
    readonly id: NodeId,
    private addr: PeerAddress,
    private readonly ctx: OutboundPeerContext,
  ) {
    this.queue = new SendQueue(ctx.options.maxQueuedMessages, ctx.options.maxQueuedBytes);
    this.backoff = new Backoff(ctx.options.backoff, ctx.options.random);
  }

  get address(): PeerAddress {
    return this.addr;
  }

  get connected(): boolean {
    return this.state === "connected";
  }

  start(): void {
    if (this.state === "idle") this.connect();
  }

  /** Queues an encoded frame; the caller counts nothing, this peer does. */
  enqueue(frame: QueuedFrame): EnqueueResult {
    if (this.state !== "connecting" && this.state !== "connected") {
      this.droppedDisconnected++;
      return "down";
    }
    if (!this.queue.push(frame)) {
      this.droppedQueueFull++;
      return "full";
    }
    return "queued";
  }

  /** Writes queued frames until the socket pushes back; 'drain' resumes. */
  flush(): void {
    const conn = this.conn;
    if (this.state !== "connected" || conn === undefined || !conn.isOpen) return;
    if (this.queue.length === 0 || conn.socket.writableNeedDrain) return;
    conn.socket.cork();
    for (let frame = this.queue.shift(); frame !== undefined; frame = this.queue.shift()) {
      this.sentMessages++;
      this.sentBytes += frameByteLength(frame);
      let open = true;
      if (frame instanceof Uint8Array) open = conn.writeRaw(frame);
      // Every part of a frame is written, whatever the socket says: a frame is never split.
      else for (const part of frame) open = conn.writeRaw(part) && open;
      if (!open) break;
    }
    conn.socket.uncork();
  }

  /** Points the peer at a new address, reconnecting at once if it changed. */
  moveTo(address: PeerAddress): void {
    if (address.host === this.addr.host && address.port === this.addr.port) return;
    this.addr = address;
    if (this.state === "idle" || this.state === "stopped") return;
    this.abandonConnection();
    this.backoff.reset();
    this.connect();
  }

  stop(): void {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.abandonConnection();
    this.droppedDisconnected += this.queue.clear();
  }

  stats(): PeerStats {
    return {
      id: this.id,
      connected: this.state === "connected",
      queuedMessages: this.queue.length,
      queuedBytes: this.queue.byteLength,
      sentMessages: this.sentMessages,
      sentBytes: this.sentBytes,
      droppedQueueFull: this.droppedQueueFull,
      droppedDisconnected: this.droppedDisconnected,
      connectAttempts: this.connectAttempts,
      connectFailures: this.connectFailures,
      handshakeFailure: this.handshakeFailure,
      snapshotsSent: this.snapshotsSent,
      snapshotsFailed: this.snapshotsFailed,
    };
  }

  private abandonConnection(): void {
    this.dialAbort.abort();
    this.dialAbort = new AbortController();
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const conn = this.conn;
    this.conn = undefined;
    conn?.close(undefined, true);
  }

  private connect(): void {
    this.state = "connecting";
    this.connectAttempts++;
    const signal = this.dialAbort.signal;
    const log = this.ctx.logger;
    const fields = { node: this.ctx.options.nodeId, peer: this.id, address: this.addr };
    dialPeer(this.ctx, this.id, this.addr, ConnectionPurpose.Messages, signal).then(
      (conn) => {
        if (signal.aborted || this.state !== "connecting") {
          conn.close(undefined, true);
          return;
        }
        this.handshakeFailure = undefined;
        if (this.backoff.consecutiveFailures > 0) log.info(fields, "reconnected to peer");
        else log.debug(fields, "connected to peer");
        this.connectedAtMs = Date.now();
        this.state = "connected";
        this.conn = conn;
        conn.setFrameHandler(() => {
          throw new PeerProtocolError("peer sent a frame on an outbound message connection");
        });
        conn.socket.on("drain", () => this.flush());
        void conn.closed.then((reason) => this.lost(conn, reason));
        this.flush();
      },
      (err: unknown) => {
        if (signal.aborted || this.state !== "connecting") return;
        this.connectFailures++;
        const reason = err instanceof Error ? err.message : String(err);
        // A handshake that timed out says nothing about credentials: the peer may be paused.
        this.handshakeFailure =
          err instanceof HandshakeError && err.failure !== "timeout" ? reason : undefined;
        // Say it once at warn; repeats while the peer stays down go to debug.
        if (this.backoff.consecutiveFailures === 0)
          log.warn({ ...fields, reason }, "cannot reach peer");
        else log.debug({ ...fields, reason }, "cannot reach peer");
        this.failed();
      },
    );
  }

  private lost(conn: FramedConnection, reason: Error | undefined): void {
    if (this.conn !== conn || this.state !== "connected") return;
    this.conn = undefined;
    // Only a connection that stayed up resets the backoff: one that the peer accepts and
    // drops at once must not turn into a tight reconnect loop.
    if (Date.now() - this.connectedAtMs >= STABLE_CONNECTION_MS) this.backoff.reset();
    this.ctx.logger.info(
      { node: this.ctx.options.nodeId, peer: this.id, reason: reason?.message ?? "closed by peer" },
      "lost connection to peer",
    );
    this.failed();
  }

  private failed(): void {
    this.droppedDisconnected += this.queue.clear();
    this.state = "backoff";
    const delayMs = this.backoff.nextDelayMs();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.state === "backoff") this.connect();
    }, delayMs);
    this.retryTimer.unref();
    this.ctx.reportUnreachable(this.id);
  }
}
