import { InvalidArgumentError } from "../../errors.js";
import type { Message, NodeId } from "../core/types.js";
import { MessageType } from "../core/types.js";
import { SnapshotStreamError } from "./errors.js";
import { GROUP_PREFIX_BYTES, validateControlPayload, validateGroup } from "./group.js";
import { TransportHandlers } from "./handlers.js";
import type { MemoryNetwork } from "./memory-network.js";
import { decodeMessage, encodeMessage } from "./message-codec.js";
import { validateMessage } from "./message-validate.js";
import { DEFAULT_MAX_FRAME_BYTES, validatePeerId } from "./options.js";
import { SnapshotByteStream } from "./snapshot-stream.js";
import type {
  PeerAddress,
  PeerStats,
  SendSnapshotOptions,
  Transport,
  TransportStats,
} from "./transport.js";

interface PeerCounters {
  sentMessages: number;
  sentBytes: number;
  droppedQueueFull: number;
  droppedDisconnected: number;
  snapshotsSent: number;
  snapshotsFailed: number;
}

/** The Transport of one node on a MemoryNetwork; same contract as TcpTransport. */
export class MemoryTransport extends TransportHandlers implements Transport {
  private readonly peers = new Map<NodeId, PeerCounters>();
  /** In-flight snapshot sends, by `${peer}/${group}`. */
  private readonly snapshotSends = new Set<string>();
  private state: "new" | "running" | "stopped" = "new";
  private receivedMessages = 0;
  private droppedUnknownPeer = 0;
  private droppedNoHandler = 0;
  private snapshotsReceived = 0;
  private snapshotsReceiveFailed = 0;
  private controlSent = 0;
  private controlReceived = 0;
  private droppedControl = 0;

  constructor(
    readonly id: NodeId,
    private readonly network: MemoryNetwork,
  ) {
    super();
  }

  get running(): boolean {
    return this.state === "running";
  }

  /** Stopped for good: the network lets a restarted node register a new transport. */
  get stopped(): boolean {
    return this.state === "stopped";
  }

  async start(): Promise<void> {
    if (this.state !== "new")
      throw new InvalidArgumentError(`transport cannot start: it is ${this.state}`);
    this.state = "running";
  }

  send(messages: readonly Message[], group = 0): void {
    if (!Array.isArray(messages))
      throw new InvalidArgumentError("send expects an array of messages");
    validateGroup(group);
    const unreachable = new Set<NodeId>();
    for (const raw of messages) {
      const m = validateMessage(raw, false);
      if (m.to === this.id)
        throw new InvalidArgumentError(`message ${m.type} is addressed to this node`);
      if (m.type === MessageType.Snap) {
        void this.sendSnapshot(m, oneChunk(m.snapshot?.data ?? new Uint8Array(0)), { group });
        continue;
      }
      const peer = this.peers.get(m.to);
      if (peer === undefined || this.state !== "running") {
        if (peer === undefined) this.droppedUnknownPeer++;
        else peer.droppedDisconnected++;
        unreachable.add(m.to);
        continue;
      }
      // Through the wire codec: the receiver gets a copy, validated as TCP would.
      const encoded = encodeMessage(m);
      const result = this.network.enqueue({
        kind: "message",
        from: m.from,
        to: m.to,
        group,
        message: decodeMessage(encoded),
      });
      if (result === "queued") {
        peer.sentMessages++;
        peer.sentBytes += encoded.byteLength + (group === 0 ? 0 : GROUP_PREFIX_BYTES);
      } else {
        if (result === "full") peer.droppedQueueFull++;
        else peer.droppedDisconnected++;
        unreachable.add(m.to);
      }
    }
    for (const id of unreachable) this.report(() => this.unreachableHandler?.(id));
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
    const group = validateGroup(options.group ?? 0, "snapshot group");
    const key = `${m.to}/${group}`;
    const peer = this.peers.get(m.to);
    let ok = false;
    if (peer !== undefined && this.state === "running" && !this.snapshotSends.has(key)) {
      this.snapshotSends.add(key);
      try {
        ok = await this.streamTo(m, data, group, options.signal);
      } finally {
        this.snapshotSends.delete(key);
      }
    }
    if (peer !== undefined) {
      if (ok) peer.snapshotsSent++;
      else peer.snapshotsFailed++;
    }
    this.report(() => this.snapshotStatusHandler?.(m.to, ok, group));
    return ok;
  }

  sendControl(to: NodeId, payload: Uint8Array): boolean {
    validatePeerId(to);
    if (to === this.id) throw new InvalidArgumentError("a control payload cannot go to this node");
    validateControlPayload(payload, DEFAULT_MAX_FRAME_BYTES);
    const peer = this.peers.get(to);
    if (peer === undefined || this.state !== "running") {
      if (peer !== undefined) peer.droppedDisconnected++;
      this.droppedControl++;
      return false;
    }
    const result = this.network.enqueue({
      kind: "control",
      from: this.id,
      to,
      payload: new Uint8Array(payload),
    });
    if (result !== "queued") {
      if (result === "full") peer.droppedQueueFull++;
      else peer.droppedDisconnected++;
      this.droppedControl++;
      return false;
    }
    this.controlSent++;
    peer.sentMessages++;
    peer.sentBytes += payload.byteLength;
    return true;
  }

  private async streamTo(
    m: Message,
    data: AsyncIterable<Uint8Array>,
    group: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const net = this.network;
    const target = net.node(m.to);
    const linkUp = (): boolean =>
      target?.running === true && !net.isBlocked(this.id, m.to) && !signal?.aborted;
    if (target === undefined || !linkUp()) return false;
    let resumed: (() => void) | undefined;
    const stream = new SnapshotByteStream(net.snapshotBufferBytes, {
      pause: () => {},
      resume: () => resumed?.(),
    });
    const header = decodeMessage(encodeMessage(m, true));
    const installed = target.receiveSnapshot(header, stream, group);
    try {
      for await (const chunk of data) {
        if (!(chunk instanceof Uint8Array))
          throw new InvalidArgumentError("snapshot data must yield Uint8Array chunks");
        if (!linkUp()) throw new SnapshotStreamError("link cut mid-stream");
        if (stream.finished || stream.abandoned) break;
        stream.push(new Uint8Array(chunk));
        while (
          stream.bufferedBytes >= net.snapshotBufferBytes &&
          !stream.abandoned &&
          !stream.finished
        ) {
          // The receiver either reads (resume) or finishes with the stream (installed settles).
          await Promise.race([
            new Promise<void>((resolve) => {
              resumed = resolve;
            }),
            installed,
          ]);
          resumed = undefined;
        }
      }
      if (!linkUp()) throw new SnapshotStreamError("link cut before the end");
      stream.end();
    } catch (err) {
      stream.fail(err instanceof Error ? err : new SnapshotStreamError(String(err)));
    }
    return installed;
  }

  /** @internal Called by the network. */
  async receiveSnapshot(m: Message, stream: SnapshotByteStream, group: number): Promise<boolean> {
    const handler = this.snapshotHandler;
    let ok = false;
    if (handler !== undefined && this.state === "running") {
      try {
        await handler(m, stream, group);
        ok = stream.consumedToEnd;
      } catch {
        ok = false;
      }
    }
    if (!ok) stream.fail(new SnapshotStreamError("receiver did not install the snapshot"));
    if (ok) this.snapshotsReceived++;
    else this.snapshotsReceiveFailed++;
    return ok;
  }

  /** @internal Called by the network. */
  receive(m: Message, group = 0): void {
    const handler = this.messageHandler;
    if (handler === undefined || !this.peers.has(m.from)) {
      this.droppedNoHandler++;
      return;
    }
    this.receivedMessages++;
    this.report(() => handler(m, group));
  }

  /**
   * @internal Called by the network. From a node that is not a peer only
   * when the network admits unknown peers (as TCP's handshake would).
   */
  receiveControl(from: NodeId, payload: Uint8Array): void {
    const handler = this.controlHandler;
    if (
      handler === undefined ||
      this.state !== "running" ||
      (!this.peers.has(from) && !this.network.admitUnknownPeers)
    ) {
      this.droppedControl++;
      return;
    }
    this.controlReceived++;
    this.report(() => handler(from, payload));
  }

  addPeer(id: NodeId, _address: PeerAddress): void {
    validatePeerId(id);
    if (id === this.id) throw new InvalidArgumentError(`node ${id} cannot be its own peer`);
    if (!this.peers.has(id)) {
      this.peers.set(id, {
        sentMessages: 0,
        sentBytes: 0,
        droppedQueueFull: 0,
        droppedDisconnected: 0,
        snapshotsSent: 0,
        snapshotsFailed: 0,
      });
    }
  }

  removePeer(id: NodeId): void {
    this.peers.delete(id);
  }

  stats(): TransportStats {
    const net = this.network;
    const peers: PeerStats[] = [...this.peers].map(([id, c]) => ({
      id,
      connected:
        this.state === "running" && net.node(id)?.running === true && !net.isBlocked(this.id, id),
      queuedMessages: 0,
      queuedBytes: 0,
      connectAttempts: 0,
      connectFailures: 0,
      handshakeFailure: undefined,
      ...c,
    }));
    return {
      peers,
      receivedMessages: this.receivedMessages,
      droppedUnknownPeer: this.droppedUnknownPeer,
      droppedOversized: 0,
      droppedNoHandler: this.droppedNoHandler,
      rejectedConnections: 0,
      droppedMisaddressed: 0,
      displacedConnections: 0,
      closedOnBadFrame: 0,
      inboundConnections: 0,
      snapshotsReceived: this.snapshotsReceived,
      snapshotsReceiveFailed: this.snapshotsReceiveFailed,
      controlSent: this.controlSent,
      controlReceived: this.controlReceived,
      droppedControl: this.droppedControl,
    };
  }

  async stop(): Promise<void> {
    this.state = "stopped";
  }

  private report(call: () => void): void {
    try {
      call();
    } catch {
      // Same contract as TcpTransport: a throwing handler does not break the transport.
    }
  }
}

async function* oneChunk(data: Uint8Array): AsyncGenerator<Uint8Array> {
  if (data.byteLength > 0) yield data;
}
