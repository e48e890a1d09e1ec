import type { Message, NodeId } from "../core/index.js";

export type { NodeStorage, PersistUpdate } from "../storage/node-storage.js";

export interface TransportHandlers {
  onMessage(message: Message): void;
  /** A peer could not be reached; replication to it backs off to probing. */
  onUnreachable(peer: NodeId): void;
  /** A snapshot message to `peer` was delivered (ok) or failed. */
  onSnapshotSent(peer: NodeId, ok: boolean): void;
}

/** Sends Raft messages to peers; never blocks, may drop (Raft retries). */
export interface NodeTransport {
  start(handlers: TransportHandlers): Promise<void>;
  /** The current peer address book (excluding this node). */
  setPeers(peers: ReadonlyMap<NodeId, string>): void;
  send(messages: readonly Message[]): void;
  stop(): Promise<void>;
}

/** The replicated application. `apply` must be deterministic: same entries, same state. */
export interface StateMachine<Result> {
  apply(entry: {
    readonly index: number;
    readonly term: number;
    readonly data: Uint8Array;
  }): Result;
  /** The whole state as of the last applied entry. */
  snapshot(): Uint8Array;
  /** Replaces the whole state. */
  restore(data: Uint8Array): void;
}
