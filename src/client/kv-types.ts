import type { Bytes } from "./bytes.js";
import type { KeyValue } from "./key-value.js";

/** Which keys a call covers: `key` alone, `[key, rangeEnd)`, or every key starting with `key`. */
export interface KeyRange {
  readonly key: Bytes;
  /** [0x00] means every key >= key. */
  readonly rangeEnd?: Bytes;
  /** Every key with `key` as prefix; overrides rangeEnd. */
  readonly prefix?: boolean;
}

export type SortOrder = "none" | "ascend" | "descend";
export type SortTarget = "key" | "version" | "create" | "mod" | "value";

export interface RangeRequest extends KeyRange {
  /** 0 or absent: no limit. */
  readonly limit?: number;
  /** Read at this past revision; 0 or absent: the current one. */
  readonly revision?: number;
  readonly sortOrder?: SortOrder;
  readonly sortTarget?: SortTarget;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  /** Read the endpoint's local state at once (may be stale) instead of a linearizable read. */
  readonly serializable?: boolean;
}

export interface RangeResult {
  readonly revision: number;
  readonly kvs: KeyValue[];
  /** More keys matched than `limit` or the server's answer byte budget let through. */
  readonly more: boolean;
  readonly count: number;
  /**
   * With `more`, in ascending key order: the first key left out. Ask again
   * from it (same range end, `revision` pinned) for the next page, or let
   * `client.rangePages` / `client.scan` do it.
   */
  readonly nextKey?: Uint8Array;
}

export interface PutOptions {
  /** Attach to this lease; 0 or absent detaches. */
  readonly lease?: number;
  readonly prevKv?: boolean;
  /** Keep the current value (pass an empty value). */
  readonly ignoreValue?: boolean;
  /** Keep the current lease. */
  readonly ignoreLease?: boolean;
}

export interface PutResult {
  readonly revision: number;
  readonly prevKv?: KeyValue;
}

export interface DeleteOptions {
  readonly rangeEnd?: Bytes;
  readonly prefix?: boolean;
  readonly prevKv?: boolean;
}

export interface DeleteResult {
  readonly revision: number;
  readonly deleted: number;
  readonly prevKvs: KeyValue[];
}

export type CompareResult = "equal" | "notEqual" | "less" | "greater";

/** One txn condition; `value` is bytes for the value target, an integer for the others. */
export type Compare = {
  readonly key: Bytes;
  readonly rangeEnd?: Bytes;
  readonly prefix?: boolean;
  /** Default "equal". */
  readonly result?: CompareResult;
} & (
  | { readonly target: "value"; readonly value: Bytes }
  | { readonly target: "version" | "create" | "mod" | "lease"; readonly value: number }
);

export type TxnOp =
  | ({ readonly type: "range" } & RangeRequest)
  | ({ readonly type: "put"; readonly key: Bytes; readonly value: Bytes } & PutOptions)
  | ({ readonly type: "delete"; readonly key: Bytes } & DeleteOptions)
  | ({ readonly type: "txn" } & TxnRequest);

export interface TxnRequest {
  readonly compare?: readonly Compare[];
  readonly success?: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

export type TxnOpResult =
  | ({ readonly type: "range" } & RangeResult)
  | ({ readonly type: "put" } & PutResult)
  | ({ readonly type: "delete" } & DeleteResult)
  | ({ readonly type: "txn" } & TxnResult);

export interface TxnResult {
  readonly revision: number;
  readonly succeeded: boolean;
  readonly responses: TxnOpResult[];
}
