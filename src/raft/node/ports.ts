export type { NodeStorage, PersistUpdate } from "../storage/node-storage.js";
export type { PeerAddress, Transport } from "../transport/transport.js";

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
