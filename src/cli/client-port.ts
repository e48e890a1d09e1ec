/**
 * What the client commands need from a cluster client: the subset of the
 * SDK's `ConclaveClient` they call, spelled structurally so the commands can
 * be exercised with a stand-in in unit tests.
 */

import type {
  Alarm,
  Bytes,
  CallOptions,
  DeleteOptions,
  MemberAddOptions,
  PermissionRange,
  PermissionType,
  PutOptions,
  RangeRequest,
  TxnRequest,
  UserAddOptions,
} from "../client/index.js";

// Request shapes are the SDK's own; results are structural views, so a unit
// test can answer with plain objects.
export type {
  AlarmType,
  Bytes,
  CallOptions,
  Compare,
  CompareResult,
  DeleteOptions,
  MemberAddOptions,
  PermissionRange,
  PermissionType,
  PutOptions,
  RangeRequest,
  SortOrder,
  SortTarget,
  TxnOp,
  TxnRequest,
} from "../client/index.js";

export interface KeyValueView {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: number;
}

export interface RangeResult {
  readonly revision: number;
  readonly kvs: readonly KeyValueView[];
  readonly more: boolean;
  readonly count: number;
  readonly nextKey?: Uint8Array;
}

export interface PutResult {
  readonly revision: number;
  readonly prevKv?: KeyValueView;
}

export interface DeleteResult {
  readonly revision: number;
  readonly deleted: number;
  readonly prevKvs: readonly KeyValueView[];
}

export type TxnOpResult =
  | ({ readonly type: "range" } & RangeResult)
  | ({ readonly type: "put" } & PutResult)
  | ({ readonly type: "delete" } & DeleteResult)
  | { readonly type: "txn" };

export interface TxnResult {
  readonly revision: number;
  readonly succeeded: boolean;
  readonly responses: readonly TxnOpResult[];
}

export interface LeaseGrantResult {
  readonly id: number;
  readonly ttlSeconds: number;
}

export interface LeaseKeepAliveResult {
  readonly id: number;
  /** 0 or less when the lease is gone. */
  readonly ttlSeconds: number;
}

/** A lease the client keeps alive until revoked or closed (the SDK's LeaseKeeper). */
export interface KeptLeaseView {
  readonly id: number;
  /** Aborts when the lease may have expired or the client closed. */
  readonly signal: AbortSignal;
  revoke(options?: CallOptions): Promise<void>;
  close(): void;
}

export interface LeaseTimeToLiveResult {
  readonly id: number;
  readonly ttlSeconds: number;
  readonly grantedTtlSeconds: number;
  readonly keys?: readonly Uint8Array[];
}

export interface LeaseListResult {
  readonly ids: readonly number[];
}

export interface MemberView {
  readonly id: number;
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

export interface MemberListResult {
  readonly members: readonly MemberView[];
}

export interface MemberAddResult extends MemberListResult {
  readonly member: MemberView;
}

export interface EndpointStatusView {
  readonly version: string;
  readonly memberId: number;
  readonly leader: number;
  readonly raftTerm: number;
  readonly raftIndex: number;
  readonly raftAppliedIndex: number;
  readonly isLearner: boolean;
  readonly revision: number;
  readonly compactRevision: number;
  readonly keyCount: number;
  readonly errors?: readonly string[];
  readonly warnings?: readonly string[];
}

export interface EndpointHealthView {
  readonly endpoint: string;
  readonly health: boolean;
  readonly tookMs: number;
  readonly error?: string;
}

export interface WatchEventView {
  /** "PUT" / "DELETE" (any case). */
  readonly type: string;
  readonly kv: KeyValueView;
  readonly prevKv?: KeyValueView;
}

export interface WatchBatchView {
  readonly revision: number;
  readonly events: readonly WatchEventView[];
}

export interface WatchOptions {
  readonly prefix?: boolean;
  readonly rangeEnd?: Bytes;
  readonly startRevision?: number;
  readonly prevKv?: boolean;
  readonly signal?: AbortSignal;
}

/** One raised alarm: which member raised it and its kind. */
export type AlarmView = Alarm;

/** A role's permission as the commands print it. */
export interface PermissionView {
  readonly type: PermissionType;
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
}

/** The part of `client.auth` the user, role and auth commands call. */
export interface CliAuth {
  enable(options?: CallOptions): Promise<unknown>;
  disable(options?: CallOptions): Promise<unknown>;
  status(
    options?: CallOptions,
  ): Promise<{ readonly enabled: boolean; readonly authRevision: number }>;
  userAdd(name: string, options: UserAddOptions & CallOptions): Promise<unknown>;
  userGet(name: string, options?: CallOptions): Promise<{ readonly roles: readonly string[] }>;
  userList(options?: CallOptions): Promise<{ readonly users: readonly string[] }>;
  userDelete(name: string, options?: CallOptions): Promise<unknown>;
  userChangePassword(name: string, password: string, options?: CallOptions): Promise<unknown>;
  userGrantRole(user: string, role: string, options?: CallOptions): Promise<unknown>;
  userRevokeRole(user: string, role: string, options?: CallOptions): Promise<unknown>;
  roleAdd(name: string, options?: CallOptions): Promise<unknown>;
  roleGet(
    role: string,
    options?: CallOptions,
  ): Promise<{ readonly permissions: readonly PermissionView[] }>;
  roleList(options?: CallOptions): Promise<{ readonly roles: readonly string[] }>;
  roleDelete(role: string, options?: CallOptions): Promise<unknown>;
  roleGrantPermission(
    role: string,
    type: PermissionType,
    range: PermissionRange,
    options?: CallOptions,
  ): Promise<unknown>;
  roleRevokePermission(
    role: string,
    range: PermissionRange,
    options?: CallOptions,
  ): Promise<unknown>;
}

export interface CliClient {
  readonly endpoints: readonly string[];
  readonly auth: CliAuth;
  range(request: RangeRequest & CallOptions): Promise<RangeResult>;
  put(key: Bytes, value: Bytes, options?: PutOptions & CallOptions): Promise<PutResult>;
  delete(key: Bytes, options?: DeleteOptions & CallOptions): Promise<DeleteResult>;
  txn(request: TxnRequest, options?: CallOptions): Promise<TxnResult>;
  leaseGrant(ttlSeconds: number, options?: CallOptions): Promise<LeaseGrantResult>;
  leaseRevoke(id: number, options?: CallOptions): Promise<unknown>;
  leaseKeepAliveOnce(id: number, options?: CallOptions): Promise<LeaseKeepAliveResult>;
  /** Grants a lease and keeps it alive (service register holds one). */
  lease(ttlSeconds: number, options?: CallOptions): Promise<KeptLeaseView>;
  leaseTimeToLive(
    id: number,
    options?: { keys?: boolean } & CallOptions,
  ): Promise<LeaseTimeToLiveResult>;
  leases(options?: CallOptions): Promise<LeaseListResult>;
  watch(key: Bytes, options?: WatchOptions): AsyncIterable<WatchBatchView>;
  memberList(options?: { serializable?: boolean } & CallOptions): Promise<MemberListResult>;
  memberAdd(
    peerURLs: readonly string[],
    options?: MemberAddOptions & CallOptions,
  ): Promise<MemberAddResult>;
  memberRemove(id: number, options?: CallOptions): Promise<MemberListResult>;
  memberPromote(id: number, options?: CallOptions): Promise<MemberListResult>;
  status(endpoint?: string, options?: CallOptions): Promise<EndpointStatusView>;
  endpointHealth(endpoint: string, options?: CallOptions): Promise<EndpointHealthView>;
  moveLeader(targetId: number, options?: CallOptions): Promise<void>;
  snapshot(options?: CallOptions): AsyncIterable<Uint8Array>;
  compact(revision: number, options?: CallOptions): Promise<unknown>;
  alarms(options?: CallOptions): Promise<readonly AlarmView[]>;
  disarmAlarm(target?: AlarmView, options?: CallOptions): Promise<readonly AlarmView[]>;
  close(): Promise<void>;
}
