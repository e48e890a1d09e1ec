import type { Message, NodeId } from "../core/types.js";

/** Where a peer listens. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Receives every validated message addressed to this node (never a snap
 * message; see SnapshotHandler), with the Raft group it belongs to (0 for a
 * single-group node).
 */
export type MessageHandler = (message: Message, group: number) => void;

/**
 * Receives a streamed snapshot: `message` is the snap message with
 * `snapshot.metadata` filled in and `snapshot.data` EMPTY; the bytes arrive
 * through `data`. Consume `data` to its end (e.g. into snapshot storage),
 * make it durable, and resolve; then step `message` into the core. The sender
 * hears "ok" only if the handler resolves AND `data` was read to its end
 * without error. Iteration throws SnapshotStreamError if the stream breaks
 * off, is truncated or fails its digest check. Reject (or return early) to
 * refuse the snapshot. `group` is the Raft group the snapshot belongs to.
 */
export type SnapshotHandler = (
  message: Message,
  data: AsyncIterable<Uint8Array>,
  group: number,
) => Promise<void>;

/** A peer could not be reached or its messages were dropped: call RawNode.reportUnreachable(peer). */
export type UnreachableHandler = (peer: NodeId) => void;

/** A snapshot send of `group` finished: call that group's RawNode.reportSnapshot(peer, ok). */
export type SnapshotStatusHandler = (peer: NodeId, ok: boolean, group: number) => void;

/**
 * Receives a control payload: opaque bytes another node of the cluster sent
 * with sendControl. `from` is the authenticated sender.
 */
export type ControlHandler = (from: NodeId, payload: Uint8Array) => void;

export interface SendSnapshotOptions {
  /** Aborting fails the send (reported as ok=false). */
  readonly signal?: AbortSignal;
  /** The Raft group the snapshot belongs to: an integer in [0, 2^32 − 1]. Default 0. */
  readonly group?: number;
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
  /** Control payloads queued by sendControl (per-peer counters count them as messages too). */
  readonly controlSent: number;
  /** Control payloads handed to the control handler. */
  readonly controlReceived: number;
  /** Control payloads sendControl could not queue, or that arrived with no control handler set. */
  readonly droppedControl: number;
}

/**
 * Moves Raft messages between the nodes of one cluster, for any number of
 * Raft groups at once: every message, snapshot and snapshot outcome carries
 * its group (an integer in [0, 2^32 − 1], 0 by default), and one connection
 * per pair of nodes carries them all. A control channel moves opaque
 * payloads between the nodes themselves (membership announcements and the
 * like) over the same authenticated connections. The node runtime:
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
   * valid network message (a bug in the caller), InvalidArgumentError for a
   * group that is not an integer in [0, 2^32 − 1]. Every message is sent as
   * a message of `group` (default 0).
   */
  send(messages: readonly Message[], group?: number): void;
  /**
   * Streams a snapshot to `message.to` over its own connection, so
   * heartbeats keep flowing meanwhile. `data` yields the snapshot bytes
   * (`message.snapshot.data` is not sent and may be empty); yielded chunks
   * must not be modified afterwards. Resolves with the outcome, which is also
   * reported through onSnapshotStatus; it never rejects for network failure.
   * At most one snapshot per (peer, group) is in flight; a second one fails
   * at once. `options.group` names the group (default 0).
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
  /**
   * Queues an opaque payload for peer `to` (one added with addPeer) on the
   * connection that carries its messages, in order with them. Returns false
   * when it cannot be queued: not a peer, transport not running, peer down
   * or its queue full; never throws for network reasons. Throws
   * InvalidArgumentError for a payload that is not a Uint8Array or does not
   * fit in one frame (maxFrameBytes − 1 bytes), or for `to` = this node.
   * The payload is copied; delivery is best effort, like messages.
   */
  sendControl(to: NodeId, payload: Uint8Array): boolean;
  /**
   * Receives control payloads from any authenticated node of the cluster,
   * also one that was never added with addPeer when the transport admits
   * unknown peers (`admitUnknownPeers`): a new node announcing itself.
   */
  onControl(handler: ControlHandler): void;
  stats(): TransportStats;
  /** Closes every connection and the listener; in-flight snapshot sends fail. */
  stop(): Promise<void>;
}
