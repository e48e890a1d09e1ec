import type { status as GrpcStatus } from "@grpc/grpc-js";

/**
 * The gRPC status codes these errors use: the numbers of gRPC's spec, as
 * @grpc/grpc-js's `status` enum has them (a test checks each). Written out so
 * that the HTTP gateway, which reports the same errors, does not load gRPC.
 */
export const GrpcCode = {
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  OUT_OF_RANGE: 11,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const satisfies Partial<Record<keyof typeof GrpcStatus, number>>;

/** A gRPC status as etcd's clients expect it: etcd's code and its `etcdserver: …` message. */
export interface EtcdStatus {
  readonly code: GrpcStatus;
  readonly details: string;
}

/**
 * Conclave's error codes (the `code` of every HTTP error body) as etcd's
 * gRPC errors. Clients match on these messages (etcd's Go client turns them
 * back into typed errors by text), so they are etcd's, word for word; the
 * Conclave code and message stay in the trailers' metadata for people.
 */
const ETCD_ERRORS: Readonly<Record<string, EtcdStatus>> = {
  KV_COMPACTED: s(GrpcCode.OUT_OF_RANGE, "mvcc: required revision has been compacted"),
  KV_FUTURE_REVISION: s(GrpcCode.OUT_OF_RANGE, "mvcc: required revision is a future revision"),
  KV_NOSPACE: s(GrpcCode.RESOURCE_EXHAUSTED, "mvcc: database space exceeded"),
  KV_LEASE_NOT_FOUND: s(GrpcCode.NOT_FOUND, "requested lease not found"),
  KV_LEASE_EXISTS: s(GrpcCode.FAILED_PRECONDITION, "lease already exists"),
  KV_KEY_NOT_FOUND: s(GrpcCode.INVALID_ARGUMENT, "key not found"),
  KV_VALUE_PROVIDED: s(GrpcCode.INVALID_ARGUMENT, "value is provided"),
  KV_LEASE_PROVIDED: s(GrpcCode.INVALID_ARGUMENT, "lease is provided"),
  KV_DUPLICATE_KEY: s(GrpcCode.INVALID_ARGUMENT, "duplicate key given in txn request"),
  TOO_MANY_OPS: s(GrpcCode.INVALID_ARGUMENT, "too many operations in txn request"),
  KEY_TOO_LARGE: s(GrpcCode.INVALID_ARGUMENT, "request is too large"),
  VALUE_TOO_LARGE: s(GrpcCode.INVALID_ARGUMENT, "request is too large"),
  BODY_TOO_LARGE: s(GrpcCode.INVALID_ARGUMENT, "request is too large"),
  AUTH_FAILED: s(GrpcCode.INVALID_ARGUMENT, "authentication failed, invalid user ID or password"),
  AUTH_NOT_ENABLED: s(GrpcCode.FAILED_PRECONDITION, "authentication is not enabled"),
  AUTH_REQUIRED: s(GrpcCode.INVALID_ARGUMENT, "user name is empty"),
  INVALID_AUTH_TOKEN: s(GrpcCode.UNAUTHENTICATED, "invalid auth token"),
  PERMISSION_DENIED: s(GrpcCode.PERMISSION_DENIED, "permission denied"),
  USER_ALREADY_EXISTS: s(GrpcCode.FAILED_PRECONDITION, "user name already exists"),
  USER_NOT_FOUND: s(GrpcCode.FAILED_PRECONDITION, "user name not found"),
  ROLE_ALREADY_EXISTS: s(GrpcCode.FAILED_PRECONDITION, "role name already exists"),
  ROLE_NOT_FOUND: s(GrpcCode.FAILED_PRECONDITION, "role name not found"),
  ROOT_USER_MISSING: s(GrpcCode.FAILED_PRECONDITION, "root user does not exist"),
  NOT_GRANTED: s(GrpcCode.FAILED_PRECONDITION, "role is not granted to the user"),
  MEMBER_EXISTS: s(GrpcCode.FAILED_PRECONDITION, "Peer URLs already exists"),
  MEMBER_NOT_FOUND: s(GrpcCode.NOT_FOUND, "member not found"),
  MEMBER_ROLE: s(GrpcCode.FAILED_PRECONDITION, "can only promote a learner member"),
  LEARNER_NOT_READY: s(
    GrpcCode.FAILED_PRECONDITION,
    "can only promote a learner member which is in sync with leader",
  ),
  TOO_MANY_LEARNERS: s(GrpcCode.FAILED_PRECONDITION, "too many learner members in cluster"),
  UNSAFE_RECONFIGURATION: s(
    GrpcCode.FAILED_PRECONDITION,
    "re-configuration failed due to not enough started members",
  ),
  CONF_CHANGE_PENDING: s(GrpcCode.UNAVAILABLE, "unhealthy cluster"),
  NOT_LEADER: s(GrpcCode.UNAVAILABLE, "no leader"),
  TIMEOUT: s(GrpcCode.UNAVAILABLE, "request timed out"),
  OUTCOME_UNKNOWN: s(GrpcCode.UNAVAILABLE, "request timed out"),
  NODE_STOPPED: s(GrpcCode.UNAVAILABLE, "server stopped"),
  NODE_FAILED: s(GrpcCode.UNAVAILABLE, "server stopped"),
  PROPOSAL_DROPPED: s(GrpcCode.UNAVAILABLE, "leader changed"),
  TOO_MANY_UNCOMMITTED: s(GrpcCode.RESOURCE_EXHAUSTED, "too many requests"),
};

function s(code: GrpcStatus, text: string): EtcdStatus {
  return { code, details: `etcdserver: ${text}` };
}

/**
 * etcd's status for a Conclave error body. Codes etcd has no error for
 * (bad arguments of many kinds, refusals of this server's own limits) keep
 * Conclave's message under the HTTP status's nearest gRPC code.
 */
export function etcdStatus(code: string, message: string, httpStatus: number): EtcdStatus {
  const known = ETCD_ERRORS[code];
  if (known !== undefined) return known;
  if (code === "KV_INVALID_COMMAND" && /\bkey\b.*\bempty\b|\bempty key\b/i.test(message)) {
    return s(GrpcCode.INVALID_ARGUMENT, "key is not provided");
  }
  return { code: nearestCode(httpStatus), details: `etcdserver: ${message}` };
}

function nearestCode(httpStatus: number): GrpcStatus {
  if (httpStatus === 400 || httpStatus === 413 || httpStatus === 422) {
    return GrpcCode.INVALID_ARGUMENT;
  }
  if (httpStatus === 401) return GrpcCode.UNAUTHENTICATED;
  if (httpStatus === 403) return GrpcCode.PERMISSION_DENIED;
  if (httpStatus === 404) return GrpcCode.NOT_FOUND;
  if (httpStatus === 409) return GrpcCode.FAILED_PRECONDITION;
  if (httpStatus === 429) return GrpcCode.RESOURCE_EXHAUSTED;
  if (httpStatus === 504) return GrpcCode.DEADLINE_EXCEEDED;
  if (httpStatus >= 500) return GrpcCode.UNAVAILABLE;
  return GrpcCode.UNKNOWN;
}
