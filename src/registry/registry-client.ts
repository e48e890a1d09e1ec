import type { Bytes, CallOptions, RangeRequest, TxnRequest } from "../client/index.js";

/**
 * What the registry calls on a cluster client: the SDK's `ConclaveClient`
 * fits, and so does the CLI's client port. Results are read structurally, so
 * only the fields the registry uses are named.
 */
export interface RegistryClient {
  range(request: RangeRequest & CallOptions): Promise<RangeView>;
  txn(request: TxnRequest, options?: CallOptions): Promise<{ readonly succeeded: boolean }>;
  lease(ttlSeconds: number, options?: CallOptions): Promise<KeptLease>;
  leaseRevoke(id: number, options?: CallOptions): Promise<unknown>;
  watch(key: Bytes, options?: RegistryWatchOptions): AsyncIterable<WatchBatchView>;
}

/** A lease kept alive by the client (the SDK's `LeaseKeeper`). */
export interface KeptLease {
  readonly id: number;
  /** Aborts when the lease may have expired (LeaseLostError) or the client closed. */
  readonly signal: AbortSignal;
  revoke(options?: CallOptions): Promise<void>;
  close(): void;
}

export interface KeyValueView {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly modRevision: number;
  readonly lease: number;
}

export interface RangeView {
  readonly revision: number;
  readonly kvs: readonly KeyValueView[];
  readonly more: boolean;
  readonly nextKey?: Uint8Array;
}

export interface RegistryWatchOptions {
  readonly prefix?: boolean;
  readonly startRevision?: number;
  readonly signal?: AbortSignal;
}

export interface WatchBatchView {
  readonly revision: number;
  readonly events: readonly {
    /** "put" / "delete", any case. */
    readonly type: string;
    readonly kv: KeyValueView;
  }[];
}
