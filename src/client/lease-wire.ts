import { BadResponseError } from "./errors.js";
import { asArray, asBytes, asInt, asObject, headerRevision } from "./json-read.js";

export interface LeaseGrantResult {
  readonly revision: number;
  readonly id: number;
  readonly ttlSeconds: number;
}

export interface LeaseKeepAliveResult {
  readonly revision: number;
  readonly id: number;
  /** The TTL the lease was refreshed to. */
  readonly ttlSeconds: number;
}

export interface LeaseTimeToLiveResult {
  readonly revision: number;
  readonly id: number;
  /** Seconds left. */
  readonly ttlSeconds: number;
  readonly grantedTtlSeconds: number;
  /** Attached keys; present when asked for with `keys: true`. */
  readonly keys?: Uint8Array[];
}

export interface LeaseListResult {
  readonly revision: number;
  readonly ids: number[];
}

export function leaseGrantResult(value: unknown): LeaseGrantResult {
  const o = asObject(value, "lease grant");
  return {
    revision: headerRevision(o, "lease grant"),
    id: asInt(o["ID"], "lease grant.ID"),
    ttlSeconds: asInt(o["TTL"], "lease grant.TTL"),
  };
}

export function leaseKeepAliveResult(value: unknown): LeaseKeepAliveResult {
  const o = asObject(asObject(value, "lease keepalive")["result"], "lease keepalive.result");
  return {
    revision: headerRevision(o, "lease keepalive.result"),
    id: asInt(o["ID"], "lease keepalive.result.ID"),
    ttlSeconds: asInt(o["TTL"], "lease keepalive.result.TTL"),
  };
}

/** A keepalives answer: each asked lease's refreshed TTL in seconds, 0 when not found. */
export function leaseKeepAlivesResult(
  value: unknown,
  asked: readonly number[],
): { revision: number; ttls: Map<number, number> } {
  const o = asObject(value, "lease keepalives");
  const ttls = new Map<number, number>();
  for (const [i, item] of asArray(o["results"], "lease keepalives.results").entries()) {
    const r = asObject(item, `lease keepalives.results[${i}]`);
    ttls.set(
      asInt(r["ID"], `lease keepalives.results[${i}].ID`),
      asInt(r["TTL"], `lease keepalives.results[${i}].TTL`),
    );
  }
  const missing = asked.filter((id) => !ttls.has(id));
  if (missing.length > 0) {
    throw new BadResponseError(`lease keepalives: no answer for lease ${missing[0]}`);
  }
  return { revision: headerRevision(o, "lease keepalives"), ttls };
}

export function leaseTimeToLiveResult(value: unknown): LeaseTimeToLiveResult {
  const o = asObject(value, "lease timetolive");
  const base = {
    revision: headerRevision(o, "lease timetolive"),
    id: asInt(o["ID"], "lease timetolive.ID"),
    ttlSeconds: asInt(o["TTL"], "lease timetolive.TTL"),
    grantedTtlSeconds: asInt(o["grantedTTL"], "lease timetolive.grantedTTL"),
  };
  if (o["keys"] === undefined) return base;
  const keys = asArray(o["keys"], "lease timetolive.keys").map((k, i) =>
    asBytes(k, `lease timetolive.keys[${i}]`),
  );
  return { ...base, keys };
}

export function leaseListResult(value: unknown): LeaseListResult {
  const o = asObject(value, "lease leases");
  return {
    revision: headerRevision(o, "lease leases"),
    ids: asArray(o["leases"], "lease leases.leases").map((l, i) =>
      asInt(asObject(l, `lease leases.leases[${i}]`)["ID"], `lease leases.leases[${i}].ID`),
    ),
  };
}
