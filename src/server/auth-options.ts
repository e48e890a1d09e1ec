import {
  type AuthFailureLimits,
  DEFAULT_AUTH_FAILURE_LIMITS,
  DEFAULT_BCRYPT_COST,
  DEFAULT_TOKEN_TTL_MS,
  validateAuthFailureLimits,
} from "../auth/index.js";
import { InvalidArgumentError } from "../errors.js";
import type { ServerOptions } from "./options.js";

export interface ServerAuthOptions {
  /** bcrypt cost for passwords hashed here (default 10, as etcd; 4 to 31). */
  readonly bcryptCost?: number;
  /** Wall clock for issuing and checking tokens (default Date.now). */
  readonly nowMs?: () => number;
  /**
   * The key member credentials are signed with (memberTokenKey(clusterSecret)):
   * lets a follower publish its own attributes through the leader's
   * member/update while auth is enabled. Absent: no member credentials.
   */
  readonly memberTokenKey?: Uint8Array;
  /** bcrypt hashes and checks running at once; more are refused with 429 (default 4). */
  readonly maxConcurrentPasswordChecks?: number;
  /**
   * Failed authentications per client host and per user name before further
   * attempts are refused with 429 (defaults: 5 in 60 s, lockouts from 10 s
   * doubling to 300 s, 10,000 keys remembered).
   */
  readonly failureLimits?: Partial<AuthFailureLimits>;
  /** The clock failures are counted by (default a monotonic one). */
  readonly failureClockMs?: () => number;
}

export interface ResolvedAuthOptions {
  readonly tokenTtlMs: number;
  readonly bcryptCost: number;
  readonly nowMs: () => number;
  readonly memberTokenKey: Uint8Array | undefined;
  readonly maxConcurrentPasswordChecks: number;
  readonly failureLimits: AuthFailureLimits;
  readonly failureClockMs: () => number;
}

export function resolveAuthOptions(options: ServerOptions): ResolvedAuthOptions {
  const tokenTtlMs = options.authTokenTtlMs ?? DEFAULT_TOKEN_TTL_MS;
  if (!Number.isSafeInteger(tokenTtlMs) || tokenTtlMs < 1000) {
    throw new InvalidArgumentError(
      `server option authTokenTtlMs must be >= 1000, got ${tokenTtlMs}`,
    );
  }
  const bcryptCost = options.auth?.bcryptCost ?? DEFAULT_BCRYPT_COST;
  if (!Number.isSafeInteger(bcryptCost) || bcryptCost < 4 || bcryptCost > 31) {
    throw new InvalidArgumentError(
      `server option auth.bcryptCost must be 4 to 31, got ${bcryptCost}`,
    );
  }
  const key = options.auth?.memberTokenKey;
  if (key !== undefined && key.byteLength < 32) {
    throw new InvalidArgumentError("server option auth.memberTokenKey must be at least 32 bytes");
  }
  const maxConcurrentPasswordChecks = options.auth?.maxConcurrentPasswordChecks ?? 4;
  if (!Number.isSafeInteger(maxConcurrentPasswordChecks) || maxConcurrentPasswordChecks < 1) {
    throw new InvalidArgumentError(
      `server option auth.maxConcurrentPasswordChecks must be >= 1, got ${maxConcurrentPasswordChecks}`,
    );
  }
  const failureLimits = { ...DEFAULT_AUTH_FAILURE_LIMITS, ...options.auth?.failureLimits };
  validateAuthFailureLimits(failureLimits, "server option auth.failureLimits");
  return {
    tokenTtlMs,
    bcryptCost,
    nowMs: options.auth?.nowMs ?? Date.now,
    memberTokenKey: key,
    maxConcurrentPasswordChecks,
    failureLimits,
    failureClockMs: options.auth?.failureClockMs ?? (() => performance.now()),
  };
}
