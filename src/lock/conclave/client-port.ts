/**
 * The part of `ConclaveClient` (conclave/client) the lock backend uses,
 * stated structurally: a ConclaveClient satisfies it, and so can a test
 * double. Revisions, lease ids and TTLs are numbers (< 2^53), as the SDK
 * gives them; keys and values go in as strings and come out as bytes.
 */

/** Per-call budget, retries included. */
export interface ClientCallOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface ClientKeyValue {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly createRevision: number;
}

export interface ClientRangeRequest {
  readonly key: string;
  readonly prefix?: boolean;
  readonly limit?: number;
  readonly sortOrder?: "none" | "ascend" | "descend";
  readonly sortTarget?: "key" | "version" | "create" | "mod" | "value";
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  /** The member's own state, without a quorum round (may lag). */
  readonly serializable?: boolean;
}

export interface ClientRangeResult {
  readonly revision: number;
  readonly kvs: readonly ClientKeyValue[];
}

export interface ClientCreateCompare {
  readonly key: string;
  readonly target: "create";
  readonly result: "equal";
  readonly value: number;
}

export type ClientTxnOp =
  | ({ readonly type: "range" } & ClientRangeRequest)
  | {
      readonly type: "put";
      readonly key: string;
      readonly value: string;
      readonly lease?: number;
      readonly ignoreValue?: boolean;
      readonly ignoreLease?: boolean;
    };

export interface ClientTxnRequest {
  readonly compare: readonly ClientCreateCompare[];
  readonly success: readonly ClientTxnOp[];
  readonly failure?: readonly ClientTxnOp[];
}

export interface ClientTxnResult {
  readonly revision: number;
  readonly succeeded: boolean;
  readonly responses: readonly ({ readonly type: string } & Partial<ClientRangeResult>)[];
}

export interface ClientWatchBatch {
  readonly revision: number;
  readonly events: readonly { readonly type: "put" | "delete" }[];
}

export interface ClientWatchStream extends AsyncIterable<ClientWatchBatch> {
  cancel(): void;
}

export interface ConclaveKeyspaceClient {
  range(request: ClientRangeRequest & ClientCallOptions): Promise<ClientRangeResult>;
  txn(request: ClientTxnRequest, options?: ClientCallOptions): Promise<ClientTxnResult>;
  leaseGrant(
    ttlSeconds: number,
    options?: ClientCallOptions,
  ): Promise<{ readonly id: number; readonly ttlSeconds: number }>;
  leaseRevoke(id: number, options?: ClientCallOptions): Promise<unknown>;
  leaseKeepAliveOnce(
    id: number,
    options?: ClientCallOptions,
  ): Promise<{ readonly ttlSeconds: number }>;
  watch(
    key: string,
    options?: {
      readonly prefix?: boolean;
      readonly startRevision?: number;
      readonly noPut?: boolean;
      readonly signal?: AbortSignal;
    },
  ): ClientWatchStream;
  close(): Promise<void>;
}
