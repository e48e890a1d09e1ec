import type { Metadata } from "@grpc/grpc-js";
import {
  AuthRequiredError,
  isRoot,
  type KeyAccess,
  PermissionDeniedError,
  requireAccess,
  resolveIdentity,
} from "../../auth/index.js";
import type { KvAccess } from "../kv-access.js";
import { authorizationOf } from "./bridge.js";

/** What a streaming call needs while auth is enabled: any user, root, or access to keys. */
export type CallAccess = "authenticated" | "root" | readonly KeyAccess[];

/**
 * The access check of the HTTP API's auth hook, for the gRPC calls that do
 * not go through a route (streams: watch, lease keep-alive, lock, election,
 * snapshot). The token is etcd's `token` metadata, else the client
 * certificate's CN. Resolves with the user (undefined while auth is
 * disabled); throws the HTTP API's typed errors.
 */
export async function authorizeCall(
  kv: KvAccess,
  metadata: Metadata,
  access: CallAccess,
  nowMs: number = Date.now(),
  /** The verified client certificate's CN (certificateCnOf), used when no token is sent. */
  certificateCn?: string,
): Promise<string | undefined> {
  const view = kv.store.auth;
  if (!view.enabled) return undefined;
  const identity = await resolveIdentity(
    view,
    { authorization: authorizationOf(metadata), certificateCn },
    nowMs,
    undefined,
  );
  if (identity === undefined) throw new AuthRequiredError();
  if (identity.kind !== "user") throw new PermissionDeniedError("a member credential");
  if (isRoot(view, identity.name)) return identity.name;
  if (access === "root") throw new PermissionDeniedError("this call needs the root role");
  if (access !== "authenticated") requireAccess(view, identity.name, access);
  return identity.name;
}
