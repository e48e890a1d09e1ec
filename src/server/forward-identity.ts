import { AuthError, AuthFailedError, type AuthIdentity, signMemberToken } from "../auth/index.js";
import type { AuthView } from "../kv/index.js";

/**
 * Who a request forwarded from a follower to the leader speaks for.
 *
 * A user token verifies on every member (its signing key is replicated auth
 * state), so a follower passes the client's `authorization` header on as it
 * came. A user the follower knows only by a TLS client certificate has no
 * such header: the follower then sends its own member credential (signed
 * with the key derived from the cluster secret) and names the user in
 * FORWARDED_FOR_HEADER. The leader believes that name only from a member
 * credential whose member also signs the request as forwarder, and then
 * checks the named user's own permissions: a member credential never makes
 * a request root.
 */

/** Set on every request a follower forwards; its value is the forwarding member's id. */
export const FORWARDED_BY_HEADER = "conclave-forwarded-by";
/** The user a forwarded request acts for (URI-encoded); accepted with a member credential only. */
export const FORWARDED_FOR_HEADER = "conclave-forwarded-for";

/** A forwarded-for header that did not come with the member credential that alone may send it. */
export class ForwardedIdentityError extends AuthError {
  constructor(message: string) {
    super(401, "INVALID_FORWARDED_IDENTITY", message);
  }
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function single(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new ForwardedIdentityError(`header ${name} sent twice`);
  return value;
}

/**
 * The identity a request acts as on the member that serves it: the one its
 * credentials prove, or, for a request a member forwarded for a user, that
 * user. Throws ForwardedIdentityError for a forwarded-for header that comes
 * without a member credential or from another member than the forwarder.
 */
export function actingIdentity(
  view: AuthView,
  proven: AuthIdentity | undefined,
  headers: Headers,
): AuthIdentity | undefined {
  const encoded = single(headers, FORWARDED_FOR_HEADER);
  if (encoded === undefined) return proven;
  if (proven?.kind !== "member") {
    throw new ForwardedIdentityError(
      `${FORWARDED_FOR_HEADER} is accepted only with a member credential`,
    );
  }
  if (single(headers, FORWARDED_BY_HEADER) !== String(proven.id)) {
    throw new ForwardedIdentityError(
      `${FORWARDED_FOR_HEADER} must come with ${FORWARDED_BY_HEADER} naming the credential's member`,
    );
  }
  let name: string;
  try {
    name = decodeURIComponent(encoded);
  } catch {
    throw new ForwardedIdentityError(`${FORWARDED_FOR_HEADER} is not URI-encoded`);
  }
  if (view.user(name) === undefined) {
    throw new AuthFailedError(`the forwarded user ${JSON.stringify(name)} does not exist`);
  }
  return { kind: "user", name };
}

/** What a follower knows of the caller it forwards for. */
export interface ForwardCaller {
  readonly headers: Headers;
  /** The authenticated user, when auth is enabled and the route needed one. */
  readonly authUser?: string | undefined;
}

export interface ForwardSigner {
  readonly selfId: number;
  /** memberTokenKey(cluster secret); absent without a cluster secret. */
  readonly memberTokenKey: Uint8Array | undefined;
  readonly nowMs: () => number;
}

/**
 * The credential headers to send a caller's request to the leader with, or
 * undefined when the leader could not be shown who the caller is (a
 * certificate-authenticated user and no cluster secret to vouch with).
 */
export async function forwardCredentials(
  caller: ForwardCaller,
  signer: ForwardSigner,
): Promise<Record<string, string> | undefined> {
  const authorization = caller.headers["authorization"];
  // A user or member token verifies on the leader as it does here.
  if (typeof authorization === "string") return { authorization };
  if (authorization !== undefined) return undefined;
  // Nobody to vouch for: auth is off here, or the route is open.
  if (caller.authUser === undefined) return {};
  const key = signer.memberTokenKey;
  if (key === undefined) return undefined;
  const token = await signMemberToken(signer.selfId, key, signer.nowMs());
  return {
    authorization: `Member ${token}`,
    [FORWARDED_FOR_HEADER]: encodeURIComponent(caller.authUser),
  };
}
