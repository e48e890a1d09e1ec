import type { AuthView } from "../kv/index.js";
import { AuthFailedError, InvalidAuthTokenError } from "./errors.js";
import { verifyMemberToken, verifyUserToken } from "./tokens.js";

/** Who a request speaks for: a user, or a member of the cluster publishing its own attributes. */
export type AuthIdentity =
  | { readonly kind: "user"; readonly name: string }
  | { readonly kind: "member"; readonly id: number };

export interface Credentials {
  /** The `authorization` header: a token, optionally "Bearer "-prefixed, or "Member <token>". */
  readonly authorization?: string | undefined;
  /** The CN of a client certificate the TLS layer verified against the client CA. */
  readonly certificateCn?: string | undefined;
}

const BEARER = /^bearer\s+/i;
const MEMBER = /^member\s+/i;

/**
 * Resolves a request's credentials against the replicated auth state. A
 * token wins over a certificate; undefined means the request carries none.
 * Throws InvalidAuthTokenError or AuthFailedError for credentials that do
 * not hold.
 */
export async function resolveIdentity(
  view: AuthView,
  credentials: Credentials,
  nowMs: number,
  memberKey: Uint8Array | undefined,
): Promise<AuthIdentity | undefined> {
  const header = credentials.authorization?.trim();
  if (header !== undefined && header !== "") {
    if (MEMBER.test(header)) {
      if (memberKey === undefined) throw new InvalidAuthTokenError("member credentials are off");
      const id = await verifyMemberToken(header.replace(MEMBER, ""), memberKey, nowMs);
      return { kind: "member", id };
    }
    const key = view.signingKey;
    if (key === undefined) throw new InvalidAuthTokenError("auth is not enabled");
    const claims = await verifyUserToken(header.replace(BEARER, ""), key, nowMs);
    const user = view.user(claims.user);
    if (user === undefined) throw new InvalidAuthTokenError("its user no longer exists");
    if (claims.revision < user.revision) {
      throw new InvalidAuthTokenError("its user changed since it was issued; authenticate again");
    }
    return { kind: "user", name: user.name };
  }
  const cn = credentials.certificateCn;
  if (cn !== undefined && cn !== "") {
    if (view.user(cn) === undefined) {
      throw new AuthFailedError("the client certificate's CN names no user");
    }
    return { kind: "user", name: cn };
  }
  return undefined;
}
