import {
  asArray,
  asBool,
  asInt,
  asObject,
  asString,
  headerRevision,
  type Json,
} from "./json-read.js";

export interface Member {
  readonly id: number;
  /** Empty until the member has started and announced itself. */
  readonly name: string;
  readonly peerURLs: string[];
  readonly clientURLs: string[];
  readonly isLearner: boolean;
}

export interface MemberListResult {
  readonly revision: number;
  readonly members: Member[];
}

export interface MemberAddResult extends MemberListResult {
  readonly member: Member;
}

export interface MemberAddOptions {
  /** Chosen by the cluster when absent. */
  readonly id?: number;
  readonly name?: string;
  readonly clientURLs?: readonly string[];
  /**
   * Absent or true: the member joins as a learner (promote it once it has
   * caught up). false: as a voter, which the cluster refuses with
   * UnsafeReconfigurationError when it would leave too few connected voters.
   */
  readonly isLearner?: boolean;
}

export interface EndpointStatus {
  readonly revision: number;
  readonly version: string;
  readonly memberId: number;
  /** The leader's id; 0 when none is known. */
  readonly leader: number;
  readonly raftTerm: number;
  readonly raftIndex: number;
  readonly raftAppliedIndex: number;
  readonly isLearner: boolean;
  readonly compactRevision: number;
  readonly keyCount: number;
  /**
   * What keeps the member from serving as a healthy part of its cluster (no
   * leader, a raised alarm, peers it cannot authenticate with); empty when none.
   */
  readonly errors: readonly string[];
  /** Insecure ways the member is served (plaintext, unauthenticated, ...); empty when none or unreported. */
  readonly warnings: readonly string[];
}

/** One endpoint's health, as `ConclaveClient.endpointHealth` finds it. */
export interface EndpointHealth {
  /** The endpoint asked, normalized. */
  readonly endpoint: string;
  readonly health: boolean;
  /** How long the linearizable read took (or took to fail), in milliseconds. */
  readonly tookMs: number;
  /** Why it is unhealthy; absent when healthy. */
  readonly error?: string;
}

/** An error as one line: its code when it has one, then its message. */
export function describeFailure(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e.message === "string" ? e.message : String(err);
  return typeof e.code === "string" ? `${e.code}: ${message}` : message;
}

function strings(value: unknown, what: string): string[] {
  return asArray(value, what).map((s, i) => asString(s, `${what}[${i}]`));
}

function member(value: unknown, what: string): Member {
  const o = asObject(value, what);
  return {
    id: asInt(o["ID"], `${what}.ID`),
    name: o["name"] === undefined ? "" : asString(o["name"], `${what}.name`),
    peerURLs: strings(o["peerURLs"], `${what}.peerURLs`),
    clientURLs: strings(o["clientURLs"], `${what}.clientURLs`),
    isLearner: asBool(o["isLearner"], `${what}.isLearner`),
  };
}

function members(o: Json, what: string): Member[] {
  return asArray(o["members"], `${what}.members`).map((m, i) => member(m, `${what}.members[${i}]`));
}

export function memberListResult(value: unknown, what = "member list"): MemberListResult {
  const o = asObject(value, what);
  return { revision: headerRevision(o, what), members: members(o, what) };
}

export function memberAddResult(value: unknown): MemberAddResult {
  const o = asObject(value, "member add");
  return { ...memberListResult(o, "member add"), member: member(o["member"], "member add.member") };
}

export function memberAddJson(peerURLs: readonly string[], o: MemberAddOptions): Json {
  return {
    peerURLs: [...peerURLs],
    ...(o.id !== undefined && { ID: o.id }),
    ...(o.name !== undefined && { name: o.name }),
    ...(o.clientURLs !== undefined && { clientURLs: [...o.clientURLs] }),
    ...(o.isLearner !== undefined && { isLearner: o.isLearner }),
  };
}

export function endpointStatus(value: unknown): EndpointStatus {
  const o = asObject(value, "status");
  const int = (name: string) => asInt(o[name], `status.${name}`);
  return {
    revision: int("revision") || headerRevision(o, "status"),
    version: o["version"] === undefined ? "" : asString(o["version"], "status.version"),
    memberId: int("memberID"),
    leader: int("leader"),
    raftTerm: int("raftTerm"),
    raftIndex: int("raftIndex"),
    raftAppliedIndex: int("raftAppliedIndex"),
    isLearner: asBool(o["isLearner"], "status.isLearner"),
    compactRevision: int("compactRevision"),
    keyCount: int("keyCount"),
    errors: o["errors"] === undefined ? [] : strings(o["errors"], "status.errors"),
    warnings: o["warnings"] === undefined ? [] : strings(o["warnings"], "status.warnings"),
  };
}
