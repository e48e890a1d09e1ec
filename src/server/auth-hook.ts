import type { TLSSocket } from "node:tls";
import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  AuthError,
  type AuthIdentity,
  AuthRequiredError,
  isRoot,
  PermissionDeniedError,
  requireAccess,
  resolveIdentity,
} from "../auth/index.js";
import { LogThrottle } from "../log-throttle.js";
import type { ResolvedAuthOptions } from "./auth-options.js";
import { hostKey } from "./client-identity.js";
import { actingIdentity } from "./forward-identity.js";
import type { KvAccess } from "./kv-access.js";
import type { RouteAccess } from "./route-access.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated user while auth is enabled; undefined otherwise. */
    authUser?: string;
    /** Set instead of authUser for a member's own credential (member/update only). */
    authMember?: number;
  }
}

/** The CN of a client certificate the TLS layer verified, when the server asks for one. */
function certificateCn(req: FastifyRequest): string | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (socket.authorized !== true || typeof socket.getPeerCertificate !== "function") {
    return undefined;
  }
  const cn = socket.getPeerCertificate().subject?.CN;
  return typeof cn === "string" ? cn : undefined;
}

function header(req: FastifyRequest): string | undefined {
  const value = req.headers.authorization;
  return typeof value === "string" ? value : undefined;
}

function routeKey(req: FastifyRequest): string | undefined {
  const url = req.routeOptions.url;
  if (url === undefined) return undefined;
  // fastify answers HEAD for every GET route with the GET route's handler.
  const method = req.method === "HEAD" ? "GET" : req.method;
  return `${method} ${url}`;
}

function bodyField(req: FastifyRequest, field: string): unknown {
  const body = req.body;
  return typeof body === "object" && body !== null
    ? (body as Record<string, unknown>)[field]
    : undefined;
}

/**
 * Identity at onRequest (before the body is read: an anonymous caller of a
 * closed route is refused without the server parsing what it sent), access
 * at preHandler (after schema validation, when the body's keys can be read).
 * While auth is disabled both steps let everything through, as before.
 */
export function addAuthHooks(
  app: FastifyInstance,
  kv: KvAccess,
  table: ReadonlyMap<string, RouteAccess>,
  options: ResolvedAuthOptions,
  tlsClientCa: boolean,
): void {
  // Declared up front so every request object has the same shape.
  app.decorateRequest("authUser", undefined);
  app.decorateRequest("authMember", undefined);
  const accessOf = (req: FastifyRequest) => {
    const key = routeKey(req);
    return key === undefined ? undefined : table.get(key);
  };

  // Refused credentials are worth an operator's eye (guessing, a stale client), but anyone can
  // send them as fast as they like: one line per kind and client host per interval.
  const refusals = new LogThrottle(app.log);
  app.addHook("onError", async (req, _reply, err) => {
    if (!(err instanceof AuthError) || err.httpStatus !== 401 || err.code === "AUTH_REQUIRED")
      return;
    const client = hostKey(req.socket.remoteAddress);
    refusals.warn(
      `${err.code} ${client}`,
      { code: err.code, client, route: routeKey(req) },
      "refused client credentials",
    );
  });

  app.addHook("onRequest", async (req) => {
    const view = kv.store.auth;
    // An unmatched URL is left to the not-found handler: it reveals nothing.
    if (!view.enabled || req.routeOptions.url === undefined) return;
    if (accessOf(req)?.kind === "open") return;
    const proven: AuthIdentity | undefined = await resolveIdentity(
      view,
      {
        authorization: header(req),
        certificateCn: tlsClientCa
          ? (certificateCn(req) ?? app.inProcessIdentity.certificateCn(req.headers))
          : undefined,
      },
      options.nowMs(),
      options.memberTokenKey,
    );
    // A member forwarding for a user acts as that user (forward-identity.ts).
    const identity = actingIdentity(view, proven, req.headers);
    if (identity === undefined) throw new AuthRequiredError();
    if (identity.kind === "user") req.authUser = identity.name;
    else req.authMember = identity.id;
  });

  app.addHook("preHandler", async (req) => {
    const view = kv.store.auth;
    if (!view.enabled || req.routeOptions.url === undefined) return;
    const access = accessOf(req);
    if (access === undefined) {
      throw new PermissionDeniedError(`${routeKey(req)} has no declared access`);
    }
    if (access.kind === "open") return;
    const user = req.authUser;
    if (access.kind === "member-self" && req.authMember !== undefined) {
      if (String(bodyField(req, "ID")) === String(req.authMember)) return;
      throw new PermissionDeniedError(`member ${req.authMember} may only update itself`);
    }
    // Auth was enabled between the two hooks: this request never proved who it is.
    if (user === undefined) {
      if (req.authMember !== undefined) {
        throw new PermissionDeniedError("a member credential is only for member/update");
      }
      throw new AuthRequiredError();
    }
    if (isRoot(view, user)) return;
    switch (access.kind) {
      case "authenticated":
        return;
      case "keys":
        requireAccess(view, user, access.keys(req.body, req.query));
        return;
      case "self":
        if (bodyField(req, access.field) === user) return;
        break;
      case "root":
      case "member-self":
        break;
    }
    throw new PermissionDeniedError(`${routeKey(req)} needs the root role`);
  });
}
