import { createHmac } from "node:crypto";
import { errors, jwtVerify, SignJWT } from "jose";
import { InvalidAuthTokenError } from "./errors.js";

/** A client's token lives this long unless the server is told otherwise (etcd's default too). */
export const DEFAULT_TOKEN_TTL_MS = 300_000;
/** A member's credential for publishing its attributes lives this long: one request's worth. */
export const MEMBER_TOKEN_TTL_MS = 60_000;

const ALGORITHM = "HS256";
const MEMBER_AUDIENCE = "conclave-member";
const MAX_TOKEN_CHARS = 4096;

export interface UserClaims {
  readonly user: string;
  /** The user's revision when the token was issued. */
  readonly revision: number;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

export async function signUserToken(
  claims: UserClaims,
  key: Uint8Array,
  nowMs: number,
  ttlMs: number,
): Promise<string> {
  return new SignJWT({ rev: claims.revision })
    .setProtectedHeader({ alg: ALGORITHM })
    .setSubject(claims.user)
    .setIssuedAt(seconds(nowMs))
    .setExpirationTime(seconds(nowMs + ttlMs))
    .sign(key);
}

function reason(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "expired";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "bad signature";
  if (err instanceof errors.JOSEError) return err.code;
  return "malformed";
}

async function verify(token: string, key: Uint8Array, nowMs: number, audience?: string) {
  if (token.length > MAX_TOKEN_CHARS) throw new InvalidAuthTokenError("too long");
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: [ALGORITHM],
      currentDate: new Date(nowMs),
      requiredClaims: ["sub", "exp"],
      ...(audience !== undefined && { audience }),
    });
    return payload;
  } catch (err) {
    throw new InvalidAuthTokenError(reason(err));
  }
}

/** Checks signature and expiry; whether the user still matches is the caller's check. */
export async function verifyUserToken(
  token: string,
  key: Uint8Array,
  nowMs: number,
): Promise<UserClaims> {
  const payload = await verify(token, key, nowMs);
  if (payload.aud !== undefined) throw new InvalidAuthTokenError("not a client token");
  const rev = payload["rev"];
  if (typeof payload.sub !== "string" || typeof rev !== "number" || !Number.isSafeInteger(rev)) {
    throw new InvalidAuthTokenError("claims are malformed");
  }
  return { user: payload.sub, revision: rev };
}

/**
 * The key members sign their own credentials with, derived from the cluster
 * secret that only members hold; a separate derivation, so a credential says
 * nothing about the secret or the peer handshake's proofs.
 */
export function memberTokenKey(clusterSecret: string): Uint8Array {
  return new Uint8Array(
    createHmac("sha256", clusterSecret).update("conclave member credential v1").digest(),
  );
}

export async function signMemberToken(memberId: number, key: Uint8Array, nowMs: number) {
  return new SignJWT({})
    .setProtectedHeader({ alg: ALGORITHM })
    .setSubject(String(memberId))
    .setAudience(MEMBER_AUDIENCE)
    .setIssuedAt(seconds(nowMs))
    .setExpirationTime(seconds(nowMs + MEMBER_TOKEN_TTL_MS))
    .sign(key);
}

/** The id of the member that signed the credential. */
export async function verifyMemberToken(
  token: string,
  key: Uint8Array,
  nowMs: number,
): Promise<number> {
  const payload = await verify(token, key, nowMs, MEMBER_AUDIENCE);
  const id = Number(payload.sub);
  if (!Number.isSafeInteger(id) || id <= 0) throw new InvalidAuthTokenError("claims are malformed");
  return id;
}
