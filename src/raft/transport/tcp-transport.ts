import type { Server } from "node:net";
import type { SecureContext } from "node:tls";
import { InvalidArgumentError } from "../../errors.js";
import type { Message, NodeId } from "../core/types.js";
import { MessageType } from "../core/types.js";
import { TransportListenError } from "./errors.js";
import { encodeFrame, FRAME_HEADER_BYTES, FrameKind } from "./frame.js";
import { validateControlPayload, validateGroup } from "./group.js";
import { TransportHandlers } from "./handlers.js";
import type { HandshakeIdentity } from "./handshake.js";
import { InboundConnections } from "./inbound.js";
import { encodeMessageFrame } from "./message-codec.js";
import { validateMessage } from "./message-validate.js";
import type { ResolvedTcpTransportOptions, TcpTransportOptions } from "./options.js";
import { resolveTcpTransportOptions, validateAddress, validatePeerId } from "./options.js";
import { OutboundPeer, type OutboundPeerContext } from "./outbound-peer.js";
import { frameByteLength } from "./send-queue.js";
import { streamSnapshot } from "./snapshot-send.js";
import { secureContextFor } from "./tls-context.js";
import type { PeerAddress, SendSnapshotOptions, Transport, TransportStats } from "./transport.js";

type State = "new" | "starting" | "running" | "stopped";

/**
 * The Transport over TCP (or TLS). Each node dials one message connection to
 * every peer and accepts theirs, so each direction of a pair has its own
 * connection; snapshots get a connection of their own per transfer. See
 * docs/transport.md for the protocol. A stopped transport cannot be started
 * again; make a new one.
 */
export class TcpTransport extends TransportHandlers implements Transport {
  readonly id: NodeId;
  private readonly o: ResolvedTcpTransportOptions;
  private readonly peerCtx: OutboundPeerContext;
  private readonly peers = new Map<NodeId, OutboundPeer>();
  /** In-flight snapshot sends, by `${peer}/${group}`: at most one per peer and group. */
  private readonly snapshotSends = new Map<string, { peer: NodeId; abort: AbortController }>();
  private readonly inbound: InboundConnections;
  private server: Server | undefined;
  private boundAddress: PeerAddress | undefined;
  private state: State = "new";
  private receivedMessages = 0;
  private droppedUnknownPeer = 0;
  private droppedOversized = 0;
  private droppedNoHandler = 0;
  private controlSent = 0;
  private controlReceived = 0;
  private droppedControl = 0;

  constructor(options: TcpTransportOptions) {
    super();
    this.o = resolveTcpTransportOptions(options);
    this.id = this.o.nodeId;
    const identity: HandshakeIdentity = {
      clusterId: this.o.clusterId,
      nodeId: this.o.nodeId,
      secret: this.o.secret,
    };
    if (this.o.unauthenticatedPeers) {
      this.o.logger.warn(
        { node: this.id },
        "peer connections are NOT authenticated: anyone who reaches the peer port can act as a member",
      );
    }
    const secureContext: SecureContext | undefined =
      this.o.tls === undefined ? undefined : secureContextFor(this.o.tls);
    this.peerCtx = {
      options: this.o,
      identity,
      secureContext,
      logger: this.o.logger,
      reportUnreachable: (peer) => this.reportUnreachable(peer),
    };
    this.inbound = new InboundConnections({
      options: this.o,
      identity,
      logger: this.o.logger,
      isKnownPeer: (id) => this.peers.has(id),
      deliver: (m, group) => this.deliver(m, group),
      deliverControl: (from, payload) => this.deliverControl(from, payload),
      snapshotHandler: () => this.snapshotHandler,
    });
  }

  /** The address actually listened on (port 0 resolved); throws before start(). */
  get address(): PeerAddress {
    if (this.boundAddress === undefined)
      throw new InvalidArgumentError("transport is not listening yet");
    return this.boundAddress;
  }

  async start(): Promise<void> {
    if (this.state !== "new")
      throw new InvalidArgumentError(`transport cannot start: it is ${this.state}`);
    this.state = "starting";
    const server = this.inbound.createServer();
    const { host, port } = this.o.listen;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host, port }, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      this.state = "stopped";
      throw new TransportListenError(host, port, { cause: err });
    }
    server.on("error", (err) =>
      this.o.logger.error({ node: this.id, reason: err.message }, "listener error"),
    );
    const bound = server.address();
    this.boundAddress =
      typeof bound === "object" && bound !== null
        ? { host: bound.address, port: bound.port }
        : this.o.listen;
    this.server = server;
    this.state = "running";
    this.o.logger.info(
      { node: this.id, address: this.boundAddress, tls: this.o.tls !== undefined },
      "transport listening",
    );
    for (const peer of this.peers.values()) peer.start();
  }

  /** Peers with frames queued for the coalesced write (coalesceWrites). */
  private readonly toFlush = new Set<OutboundPeer>();
  private flushScheduled = false;

  /** Writes the peer's queue now, or with coalesceWrites at the end of this loop turn. */
  private flushSoon(peer: OutboundPeer): void {
    if (!this.o.coalesceWrites) {
      peer.flush();
      return;
    }
    this.toFlush.add(peer);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      const peers = [...this.toFlush];
      this.toFlush.clear();
      for (const p of peers) p.flush();
    });
  }

  send(messages: readonly Message[], group = 0): void {
    if (!Array.isArray(messages))
      throw new InvalidArgumentError("send expects an array of messages");
    validateGroup(group);
    const touched = new Set<OutboundPeer>();
    const unreachable = new Set<NodeId>();
    for (const raw of messages) {
      const m = validateMessage(raw, false);
      if (m.to === this.id)
        throw new InvalidArgumentError(`message ${m.type} is addressed to this node`);
      if (m.type === MessageType.Snap) {
        const data = m.snapshot?.data ?? new Uint8Array(0);
        // The outcome is reported through onSnapshotStatus; sendSnapshot never rejects for a validated message.
        this.sendSnapshot(m, oneChunk(data), { group }).catch((err: unknown) => {
          this.o.logger.error(
            { node: this.id, peer: m.to, group, reason: String(err) },
            "snapshot send failed",
          );
        });
        continue;
      }
      const peer = this.peers.get(m.to);
      if (peer === undefined) {
        this.droppedUnknownPeer++;
        unreachable.add(m.to);
        continue;
      }
      // Group 0 keeps the original Message frame, byte for byte.
      const frame =
        group === 0
          ? encodeMessageFrame(FrameKind.Message, m)
          : encodeMessageFrame(FrameKind.GroupMessage, m, group);
      const bodyBytes = frameByteLength(frame) - FRAME_HEADER_BYTES;
      if (bodyBytes + 1 > this.o.maxFrameBytes) {
        this.droppedOversized++;
        this.o.logger.warn(
          {
            node: this.id,
            peer: m.to,
            type: m.type,
            group,
            bytes: bodyBytes,
            maxFrameBytes: this.o.maxFrameBytes,
          },
          "dropped message larger than maxFrameBytes",
        );
        continue;
      }
      if (peer.enqueue(frame) === "queued") touched.add(peer);
      else unreachable.add(m.to);
    }
    for (const peer of touched) this.flushSoon(peer);
    for (const id of unreachable) this.reportUnreachable(id);
  }

  async sendSnapshot(
    message: Message,
    data: AsyncIterable<Uint8Array>,
    options: SendSnapshotOptions = {},
  ): Promise<boolean> {
    const m = validateMessage(message, false);
    if (m.type !== MessageType.Snap) {
      throw new InvalidArgumentError(`sendSnapshot needs a snap message, got ${m.type}`);
    }
    if (data === null || typeof data !== "object" || !(Symbol.asyncIterator in data)) {
      throw new InvalidArgumentError("sendSnapshot needs an AsyncIterable of Uint8Array");
    }
    const group = validateGroup(options.group ?? 0, "snapshot group");
    const to = m.to;
    const key = `${to}/${group}`;
    const peer = this.peers.get(to);
    const log = this.o.logger;
    const fields = { node: this.id, peer: to, group, index: m.snapshot?.metadata.index };
    if (this.state !== "running" || peer === undefined || this.snapshotSends.has(key)) {
      const reason =
        this.state !== "running"
          ? "transport is not running"
          : peer === undefined
            ? "not a peer"
            : "a snapshot of this group to this peer is already in flight";
      log.warn({ ...fields, reason }, "snapshot not sent");
      if (peer !== undefined) peer.snapshotsFailed++;
      this.reportSnapshotStatus(to, false, group);
      return false;
    }
    const abort = new AbortController();
    const onCallerAbort = (): void => abort.abort();
    options.signal?.addEventListener("abort", onCallerAbort, { once: true });
    if (options.signal?.aborted) abort.abort();
    const entry = { peer: to, abort };
    this.snapshotSends.set(key, entry);
    let ok = false;
    try {
      const ack = await streamSnapshot(this.peerCtx, peer.address, m, data, abort.signal, group);
      ok = ack.ok;
      if (ok) log.info(fields, "snapshot sent");
      else log.warn({ ...fields, reason: ack.reason }, "peer did not install snapshot");
    } catch (err) {
      log.warn(
        { ...fields, reason: err instanceof Error ? err.message : String(err) },
        "snapshot send failed",
      );
    } finally {
      options.signal?.removeEventListener("abort", onCallerAbort);
      if (this.snapshotSends.get(key) === entry) this.snapshotSends.delete(key);
    }
    if (ok) peer.snapshotsSent++;
    else peer.snapshotsFailed++;
    this.reportSnapshotStatus(to, ok, group);
    return ok;
  }

  sendControl(to: NodeId, payload: Uint8Array): boolean {
    validatePeerId(to);
    if (to === this.id) throw new InvalidArgumentError("a control payload cannot go to this node");
    validateControlPayload(payload, this.o.maxFrameBytes);
    const peer = this.peers.get(to);
    if (this.state !== "running" || peer === undefined) {
      this.droppedControl++;
      return false;
    }
    if (peer.enqueue(encodeFrame(FrameKind.Control, payload)) !== "queued") {
      this.droppedControl++;
      return false;
    }
    this.controlSent++;
    this.flushSoon(peer);
    return true;
  }

  addPeer(id: NodeId, address: PeerAddress): void {
    validatePeerId(id);
    if (id === this.id) throw new InvalidArgumentError(`node ${id} cannot be its own peer`);
    const addr = validateAddress(address, `address of peer ${id}`);
    if (this.state === "stopped") return;
    const existing = this.peers.get(id);
    if (existing !== undefined) {
      existing.moveTo(addr);
      return;
    }
    const peer = new OutboundPeer(id, addr, this.peerCtx);
    this.peers.set(id, peer);
    if (this.state === "running") peer.start();
  }

  removePeer(id: NodeId): void {
    validatePeerId(id);
    const peer = this.peers.get(id);
    if (peer === undefined) return;
    this.peers.delete(id);
    peer.stop();
    for (const send of this.snapshotSends.values()) if (send.peer === id) send.abort.abort();
    this.inbound.closePeer(id);
  }

  stats(): TransportStats {
    return {
      peers: [...this.peers.values()].map((p) => p.stats()),
      receivedMessages: this.receivedMessages,
      droppedUnknownPeer: this.droppedUnknownPeer,
      droppedOversized: this.droppedOversized,
      droppedNoHandler: this.droppedNoHandler,
      rejectedConnections: this.inbound.rejectedConnections,
      displacedConnections: this.inbound.displacedConnections,
      droppedMisaddressed: this.inbound.droppedMisaddressed,
      closedOnBadFrame: this.inbound.closedOnBadFrame,
      inboundConnections: this.inbound.count,
      snapshotsReceived: this.inbound.snapshotsReceived,
      snapshotsReceiveFailed: this.inbound.snapshotsReceiveFailed,
      controlSent: this.controlSent,
      controlReceived: this.controlReceived,
      droppedControl: this.droppedControl,
    };
  }

  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    for (const peer of this.peers.values()) peer.stop();
    for (const send of this.snapshotSends.values()) send.abort.abort();
    const server = this.server;
    this.server = undefined;
    const closed =
      server === undefined
        ? Promise.resolve()
        : new Promise<void>((resolve) => server.close(() => resolve()));
    await this.inbound.closeAll();
    await closed;
    this.o.logger.info({ node: this.id }, "transport stopped");
  }

  private deliver(m: Message, group: number): void {
    const handler = this.messageHandler;
    if (handler === undefined || this.state !== "running") {
      this.droppedNoHandler++;
      return;
    }
    this.receivedMessages++;
    try {
      handler(m, group);
    } catch (err) {
      this.o.logger.error(
        {
          node: this.id,
          peer: m.from,
          type: m.type,
          group,
          reason: err instanceof Error ? err.message : String(err),
        },
        "message handler threw",
      );
    }
  }

  private deliverControl(from: NodeId, payload: Uint8Array): void {
    const handler = this.controlHandler;
    if (handler === undefined || this.state !== "running") {
      this.droppedControl++;
      return;
    }
    this.controlReceived++;
    try {
      handler(from, payload);
    } catch (err) {
      this.o.logger.error(
        { node: this.id, peer: from, reason: err instanceof Error ? err.message : String(err) },
        "control handler threw",
      );
    }
  }

  private reportUnreachable(peer: NodeId): void {
    const handler = this.unreachableHandler;
    if (handler === undefined || this.state !== "running") return;
    try {
      handler(peer);
    } catch (err) {
      this.o.logger.error(
        { node: this.id, peer, reason: String(err) },
        "unreachable handler threw",
      );
    }
  }

  private reportSnapshotStatus(peer: NodeId, ok: boolean, group: number): void {
    const handler = this.snapshotStatusHandler;
    if (handler === undefined) return;
    try {
      handler(peer, ok, group);
    } catch (err) {
      this.o.logger.error(
        { node: this.id, peer, group, reason: String(err) },
        "snapshot status handler threw",
      );
    }
  }
}

async function* oneChunk(data: Uint8Array): AsyncGenerator<Uint8Array> {
  if (data.byteLength > 0) yield data;
}
