import type { AuthCommand, AuthResult } from "./auth-types.js";
import type { KvError } from "./errors.js";
import type { MemberAttributesResult } from "./members.js";

/** A key's state at one revision, as etcd's mvccpb.KeyValue. */
export interface KeyValue {
  readonly key: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  /** Writes since creation; 0 for a deletion marker. */
  readonly version: number;
  readonly value: Uint8Array;
  /** 0 when no lease is attached. */
  readonly lease: number;
}

export type SortTarget = "key" | "version" | "create" | "mod" | "value";
export type SortOrder = "ascend" | "descend";

export interface RangeCommand {
  readonly type: "range";
  readonly key: Uint8Array;
  /** Absent: the single key. [0x00]: every key >= key. Otherwise [key, rangeEnd). */
  readonly rangeEnd?: Uint8Array;
  /** 0 or absent: the current revision. */
  readonly revision?: number;
  /** 0 or absent: no limit. */
  readonly limit?: number;
  readonly sortTarget?: SortTarget;
  readonly sortOrder?: SortOrder;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  /**
   * 0 or absent: no bound. Keys outside these bounds are left out of `kvs`
   * (after the count, which stays the interval's, as etcd's does).
   */
  readonly minModRevision?: number;
  readonly maxModRevision?: number;
  readonly minCreateRevision?: number;
  readonly maxCreateRevision?: number;
}

export interface PutCommand {
  readonly type: "put";
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** 0 or absent: detach from any lease. */
  readonly lease?: number;
  readonly prevKv?: boolean;
  /** Keep the current value (value must be empty). */
  readonly ignoreValue?: boolean;
  /** Keep the current lease (lease must be 0). */
  readonly ignoreLease?: boolean;
}

export interface DeleteRangeCommand {
  readonly type: "deleteRange";
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  readonly prevKv?: boolean;
}

export type CompareTarget = "value" | "version" | "create" | "mod" | "lease";
export type CompareResult = "equal" | "notEqual" | "less" | "greater";

/** `value` is bytes for the "value" target and an integer for every other target. */
export interface Compare {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  readonly target: CompareTarget;
  readonly result: CompareResult;
  readonly value: Uint8Array | number;
}

export type TxnOp = RangeCommand | PutCommand | DeleteRangeCommand | TxnCommand;

export interface TxnCommand {
  readonly type: "txn";
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
}

/** Drops history below `revision`; ranges at older revisions fail with CompactedError. */
export interface CompactCommand {
  readonly type: "compact";
  readonly revision: number;
}

export interface LeaseGrantCommand {
  readonly type: "leaseGrant";
  /** 0 or absent: the store assigns the next free id. */
  readonly id?: number;
  readonly ttlMs: number;
}

/** Revokes the lease and deletes every key attached to it, at one revision. Also how expiry happens. */
export interface LeaseRevokeCommand {
  readonly type: "leaseRevoke";
  readonly id: number;
  /**
   * Revoke only if the lease has had exactly this many keep-alives applied
   * (LeaseRenewedError otherwise). The leader's expiry loop sets it to the
   * count it had seen when the deadline passed, so a keep-alive already in
   * the log ahead of the revoke keeps the lease alive: a client is never
   * told "renewed" just before the lease is deleted.
   */
  readonly ifRenewals?: number;
}

/**
 * Legacy: keep-alives used to go through the log. The leader now renews in
 * its own memory (LeaseExpiry.keepAlive) and never proposes this; an entry
 * already in a WAL still applies as it always did (counts a renewal, which
 * an older `leaseRevoke { ifRenewals }` may name) so replay gives the same state.
 */
export interface LeaseKeepAliveCommand {
  readonly type: "leaseKeepAlive";
  readonly id: number;
}

export type AlarmType = "NOSPACE" | "CORRUPT";

/** One raised alarm: which member raised it and what kind it is (etcd's AlarmMember). */
export interface AlarmMember {
  readonly memberId: number;
  readonly alarm: AlarmType;
}

/**
 * Raises, clears or lists alarms. Alarms are replicated state: while any
 * member's NOSPACE alarm is raised every replica refuses writes that take
 * space (see alarms.ts). `get` filters by `alarm` when given; activate and
 * deactivate need both fields. None of them changes the revision.
 */
export interface AlarmCommand {
  readonly type: "alarm";
  readonly action: "activate" | "deactivate" | "get";
  readonly memberId?: number;
  readonly alarm?: AlarmType;
}

/** One lease's remaining TTL as the leader saw it: [lease id, remaining ms]. */
export type LeaseCheckpoint = readonly [id: number, remainingMs: number];

/**
 * Records remaining TTLs so a new leader does not give every lease a full
 * TTL again (etcd's lease checkpoints). A remainingMs at or above the
 * lease's TTL clears its checkpoint: the leader renewed it. Unknown ids are
 * skipped (revoked since the leader wrote the entry).
 */
export interface LeaseCheckpointCommand {
  readonly type: "leaseCheckpoint";
  readonly checkpoints: readonly LeaseCheckpoint[];
}

/**
 * A client write carrying the client's request id: applied once, and a retry
 * with the same id is answered with the first result (see RequestLog).
 */
export interface RequestCommand {
  readonly type: "request";
  readonly id: string;
  readonly command: WriteCommand;
}

/** Commands that change replicated state, the ones a request id may wrap. */
export type WriteCommand = Exclude<KvCommand, RangeCommand | RequestCommand>;

export type KvCommand =
  | RequestCommand
  | RangeCommand
  | PutCommand
  | DeleteRangeCommand
  | TxnCommand
  | CompactCommand
  | LeaseGrantCommand
  | LeaseRevokeCommand
  | LeaseKeepAliveCommand
  | AlarmCommand
  | LeaseCheckpointCommand
  | AuthCommand;

export interface RangeResult {
  readonly type: "range";
  readonly revision: number;
  readonly kvs: KeyValue[];
  /** More keys matched than `limit` or the byte budget let through. */
  readonly more: boolean;
  /** Keys matched before the limit. */
  readonly count: number;
  /**
   * Set when `more` and the answer is in ascending key order: the first key
   * left out, where the next page starts (same range end, same revision).
   */
  readonly nextKey?: Uint8Array;
}

export interface PutResult {
  readonly type: "put";
  readonly revision: number;
  readonly prevKv?: KeyValue;
}

export interface DeleteRangeResult {
  readonly type: "deleteRange";
  readonly revision: number;
  readonly deleted: number;
  readonly prevKvs: KeyValue[];
}

export type TxnOpResult = RangeResult | PutResult | DeleteRangeResult | TxnResult;

export interface TxnResult {
  readonly type: "txn";
  readonly revision: number;
  readonly succeeded: boolean;
  readonly responses: TxnOpResult[];
}

export interface CompactResult {
  readonly type: "compact";
  readonly revision: number;
}

export interface LeaseGrantResult {
  readonly type: "leaseGrant";
  readonly revision: number;
  readonly id: number;
  readonly ttlMs: number;
}

export interface LeaseRevokeResult {
  readonly type: "leaseRevoke";
  readonly revision: number;
  readonly deletedKeys: number;
}

export interface LeaseKeepAliveResult {
  readonly type: "leaseKeepAlive";
  readonly revision: number;
  readonly id: number;
  readonly ttlMs: number;
}

/**
 * activate: the alarm if it was newly raised; deactivate: the alarm if it was
 * raised; get: every raised alarm that matches.
 */
export interface AlarmResult {
  readonly type: "alarm";
  readonly revision: number;
  readonly alarms: AlarmMember[];
}

export interface LeaseCheckpointResult {
  readonly type: "leaseCheckpoint";
  readonly revision: number;
}

/** A command that was rejected; the store is unchanged. */
export interface KvFailure {
  readonly type: "error";
  readonly revision: number;
  readonly error: KvError;
}

export type KvResult =
  | RangeResult
  | PutResult
  | DeleteRangeResult
  | TxnResult
  | CompactResult
  | LeaseGrantResult
  | LeaseRevokeResult
  | LeaseKeepAliveResult
  | AlarmResult
  | LeaseCheckpointResult
  | MemberAttributesResult
  | AuthResult
  | KvFailure;

export interface KvEvent {
  readonly type: "put" | "delete";
  /** For a delete: the key, modRevision = the deleting revision, every other field zero. */
  readonly kv: KeyValue;
  readonly prevKv?: KeyValue;
}

export interface LeaseInfo {
  readonly id: number;
  readonly ttlMs: number;
  /** Attached keys, sorted. */
  readonly keys: Uint8Array[];
}
