import type { Message, NodeId } from "../../src/raft/core/types.js";
import type {
  ControlHandler,
  MessageHandler,
  PeerAddress,
  SendSnapshotOptions,
  SnapshotHandler,
  SnapshotStatusHandler,
  Transport,
  TransportStats,
  UnreachableHandler,
} from "../../src/raft/transport/transport.js";

/** What the test network decides for one node's inbound side. */
export interface Tap {
  /** Whether a peer message (or a snapshot's header) reaches the node; false loses it. */
  admit(message: Message): boolean;
  /** False once the node crashed: transport reports no longer reach it either. */
  alive(): boolean;
}

/**
 * A transport with the test network's gate in front of the node's handlers.
 * Gating at the receiver sees snapshots too, which stream past the
 * MemoryNetwork's queue, and lets a crash silence an abandoned node at once.
 */
export class TappedTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    private readonly tap: Tap,
  ) {}

  get id(): NodeId {
    return this.inner.id;
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  send(messages: readonly Message[], group?: number): void {
    this.inner.send(messages, group);
  }

  sendSnapshot(
    message: Message,
    data: AsyncIterable<Uint8Array>,
    options?: SendSnapshotOptions,
  ): Promise<boolean> {
    return this.inner.sendSnapshot(message, data, options);
  }

  addPeer(id: NodeId, address: PeerAddress): void {
    this.inner.addPeer(id, address);
  }

  removePeer(id: NodeId): void {
    this.inner.removePeer(id);
  }

  onMessage(handler: MessageHandler): void {
    this.inner.onMessage((m, group) => {
      if (this.tap.admit(m)) handler(m, group);
    });
  }

  /** A refused snapshot is left unread, so the sender hears that it failed. */
  onSnapshot(handler: SnapshotHandler): void {
    this.inner.onSnapshot(async (m, data, group) => {
      if (this.tap.admit(m)) await handler(m, data, group);
    });
  }

  onUnreachable(handler: UnreachableHandler): void {
    this.inner.onUnreachable((peer) => {
      if (this.tap.alive()) handler(peer);
    });
  }

  onSnapshotStatus(handler: SnapshotStatusHandler): void {
    this.inner.onSnapshotStatus((peer, ok, group) => {
      if (this.tap.alive()) handler(peer, ok, group);
    });
  }

  sendControl(to: NodeId, payload: Uint8Array): boolean {
    return this.inner.sendControl(to, payload);
  }

  onControl(handler: ControlHandler): void {
    this.inner.onControl(handler);
  }

  stats(): TransportStats {
    return this.inner.stats();
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }
}
