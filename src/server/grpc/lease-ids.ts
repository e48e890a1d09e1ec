import { status as GrpcCode } from "@grpc/grpc-js";
import { MAX_TTL_SECONDS } from "../lease-routes.js";
import { GrpcCallError, type JsonObject } from "./bridge.js";
import { heldId } from "./held-id.js";

/** etcd's LeaseGrant refusal for a TTL above the most a lease may have. */
export class LeaseTtlTooLargeError extends GrpcCallError {
  constructor() {
    super(
      { code: GrpcCode.OUT_OF_RANGE, details: "etcdserver: too large lease TTL" },
      "LEASE_TTL_TOO_LARGE",
    );
  }
}

/** A client-chosen lease id Conclave cannot hold. */
export class LeaseIdUnsupportedError extends GrpcCallError {
  constructor(id: string) {
    super(
      {
        code: GrpcCode.INVALID_ARGUMENT,
        details: `etcdserver: lease ID ${id} is not supported: lease ids must be in [1, 2^53)`,
      },
      "INVALID_ARGUMENT",
    );
  }
}

/**
 * The least TTL a lease gets, as etcd computes it: one and a half election
 * timeouts, in whole seconds rounded up, so a lease outlives the election
 * that follows a leader's loss (a new leader renews every lease in full).
 */
export function minLeaseTtlSeconds(electionTimeoutMs: number): number {
  return Math.max(1, Math.ceil((1.5 * electionTimeoutMs) / 1000));
}

/**
 * A LeaseGrant message as the grant route's body. As etcd does, a TTL below
 * the minimum (0 and negative ones too) is raised to it, and one above the
 * maximum is refused with etcd's error. A requested ID of 0 lets the store
 * choose; one Conclave cannot hold is refused rather than changed.
 */
export function grantBody(message: JsonObject, minTtlSeconds: number): JsonObject {
  const ttlText = String(message["TTL"] ?? "0");
  const ttl = /^-?[0-9]{1,20}$/.test(ttlText) ? Number(ttlText) : Number.NaN;
  if (!(ttl <= MAX_TTL_SECONDS)) throw new LeaseTtlTooLargeError();
  const body: JsonObject = { TTL: String(Math.max(ttl, minTtlSeconds)) };
  const requested = message["ID"];
  if (requested !== undefined && String(requested) !== "0") {
    const id = heldId(requested);
    if (id === undefined) throw new LeaseIdUnsupportedError(String(requested));
    body["ID"] = id;
  }
  return body;
}

/** etcd's answer for a lease that does not exist. */
export class GrpcLeaseNotFoundError extends GrpcCallError {
  constructor() {
    super(
      { code: GrpcCode.NOT_FOUND, details: "etcdserver: requested lease not found" },
      "KV_LEASE_NOT_FOUND",
    );
  }
}
