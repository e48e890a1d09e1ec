import type { Message, NodeId } from "../core/types.js";

/** Where a peer listens. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/** Receives every validated message addressed to this node (never a snap message; see SnapshotHandler). */
export type MessageHandler = (message: Message) => void;

/**
 * Receives a streamed snapshot: `message` is the snap message with
 * `snapshot.metadata` filled in and `snapshot.data` EMPTY; the bytes arrive
 * through `data`. Consume `data` to its end (e.g. into snapshot storage),
 * make it durable, and resolve; then step `message` into the core. The sender
 * hears "ok" only if the handler resolves AND `data` was read to its end
 * without error. Iteration throws SnapshotStreamError if the stream breaks
 * off, is truncated or fails its digest check. Reject (or return early) to
 * refuse the snapshot.
 */
export type SnapshotHandler = (message: Message, data: AsyncIterable<Uint8Array>) => Promise<void>;

/** A peer could not be reached or its messages were dropped: call RawNode.reportUnreachable(peer). */
export type UnreachableHandler = (peer: NodeId) => void;

/** A snapshot send finished: call RawNode.reportSnapshot(peer, ok). */
export type SnapshotStatusHandler = (peer: NodeId, ok: boolean) => void;

export interface SendSnapshotOptions {
  /** Aborting fails the send (reported as ok=false). */
  readonly signal?: AbortSignal;
}

export interface PeerStats {
  readonly id: NodeId;
  /** An authenticated outbound message connection is open. */
  readonly connected: boolean;
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  /** Messages written to the connection (not necessarily received). */
  readonly sentMessages: number;
  readonly sentBytes: number;
  /** Dropped because the bounded send queue was full. */
  readonly droppedQueueFull: number;
  /** Dropped because no connection was up (queued when it broke, or sent while in backoff). */
  readonly droppedDisconnected: number;
  readonly connectAttempts: number;
  readonly connectFailures: number;
  /**
   * Why the latest connection attempt failed its handshake (the peer refused
   * this node's proof, or this node refused the peer's: a different cluster
   * secret, a protocol version or a cluster mismatch); undefined once an
   * attempt succeeds or fails for another reason (the peer is down).
   */
  readonly handshakeFailure: string | undefined;
  readonly snapshotsSent: number;
  readonly snapshotsFailed: number;
}

export interface TransportStats {
  readonly peers: readonly PeerStats[];
  /** Validated messages handed to the message handler. */
  readonly receivedMessages: number;
  /** Outgoing messages to a node that is not a peer. */
  readonly droppedUnknownPeer: number;
  /** Outgoing messages whose encoding exceeds maxFrameBytes. */
  readonly droppedOversized: number;
  /** Incoming messages that arrived while no handler was set. */
  readonly droppedNoHandler: number;
  /** Incoming connections whose handshake failed (or that never completed one). */
  readonly rejectedConnections: number;
  /** Incoming unauthenticated connections closed to make room for newer ones (a flood, usually). */
  readonly displacedConnections: number;
  /** Incoming messages whose `from` was not the authenticated peer, or whose `to` was not this node. */
  readonly droppedMisaddressed: number;
  /** Authenticated connections closed for a bad frame (undecodable, oversized, invalid, out of turn). */
  readonly closedOnBadFrame: number;
  /** Incoming connections open now, authenticated or not. */
  readonly inboundConnections: number;
  readonly snapshotsReceived: number;
  readonly snapshotsReceiveFailed: number;
}

/**
 * Moves Raft messages between the nodes of one cluster. The node runtime:
 *
 * 1. registers its handlers and peers, then calls `start()`;
 * 2. after persisting a Ready, calls `send(rd.messages)` for the ordinary
 *    messages and `sendSnapshot(m, bytes)` for each snap message (or passes
 *    snap messages to `send`, which streams `m.snapshot.data` itself);
 * 3. steps what `onMessage` delivers, installs what `onSnapshot` delivers,
 *    and forwards `onUnreachable` / `onSnapshotStatus` to
 *    `RawNode.reportUnreachable` / `RawNode.reportSnapshot`.
 *
 * Delivery is best effort: messages may be lost, duplicated across
 * reconnects or reordered, which Raft tolerates. Nothing here blocks the
 * caller or grows without bound. Handlers are called on the event loop and
 * must not throw (a throw is logged and swallowed).
 */
export interface Transport {
  /** This node's id. */
  readonly id: NodeId;
  /** Starts listening and connecting to the peers added so far. */
  start(): Promise<void>;
  /**
   * Queues each message for its `to` peer and returns at once. Messages that
   * cannot be queued are dropped, counted in stats() and reported through
   * onUnreachable. Throws InvalidMessageError for a message that is not a
   * valid network message (a bug in the caller).
   */
  send(messages: readonly Message[]): void;
  /**
   * Streams a snapshot to `message.to` over its own connection, so
   * heartbeats keep flowing meanwhile. `data` yields the snapshot bytes
   * (`message.snapshot.data` is not sent and may be empty); yielded chunks
   * must not be modified afterwards. Resolves with the outcome, which is also
   * reported through onSnapshotStatus; it never rejects for network failure.
   * At most one snapshot per peer is in flight; a second one fails at once.
   */
  sendSnapshot(
    message: Message,
    data: AsyncIterable<Uint8Array>,
    options?: SendSnapshotOptions,
  ): Promise<boolean>;
  /** Adds a peer, or moves it to a new address. */
  addPeer(id: NodeId, address: PeerAddress): void;
  /** Forgets a peer: drops its queue, closes its connections, fails its snapshot send. */
  removePeer(id: NodeId): void;
  onMessage(handler: MessageHandler): void;
  onSnapshot(handler: SnapshotHandler): void;
  onUnreachable(handler: UnreachableHandler): void;
  onSnapshotStatus(handler: SnapshotStatusHandler): void;
  stats(): TransportStats;
  /** Closes every connection and the listener; in-flight snapshot sends fail. */
  stop(): Promise<void>;
}
