import { DEFAULT_BCRYPT_COST, DEFAULT_TOKEN_TTL_MS } from "../auth/index.js";
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
}

export interface ResolvedAuthOptions {
  readonly tokenTtlMs: number;
  readonly bcryptCost: number;
  readonly nowMs: () => number;
  readonly memberTokenKey: Uint8Array | undefined;
  readonly maxConcurrentPasswordChecks: number;
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
  return {
    tokenTtlMs,
    bcryptCost,
    nowMs: options.auth?.nowMs ?? Date.now,
    memberTokenKey: key,
    maxConcurrentPasswordChecks,
  };
}
