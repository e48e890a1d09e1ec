import {
  status as GrpcCode,
  type ServerUnaryCall,
  type sendUnaryData,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { GrpcCallError, type JsonObject, type RouteBridge } from "./bridge.js";
import type { GrpcContext } from "./context.js";
import { grpcError, unaryHandlers } from "./unary.js";

/** The name of the user and of the role that may do everything (etcd's and Conclave's). */
const ROOT = "root";

type Call = ServerUnaryCall<JsonObject, JsonObject>;

/**
 * etcd refuses AuthEnable with "root user does not have root role" when the
 * user exists without the role, and etcdctl answers that error by adding the
 * role "root", granting it to root and enabling again. Conclave's single
 * ROOT_USER_MISSING code covers both cases; this tells them apart.
 */
function authEnable(ctx: GrpcContext): UntypedHandleCall {
  return (call: Call, callback: sendUnaryData<JsonObject>) => {
    ctx.bridge.post("/v3/auth/enable", call.request ?? {}, call).then(
      (answer) => callback(null, answer),
      (err: unknown) => {
        const rootExists = ctx.kv.store.auth.user(ROOT) !== undefined;
        if (
          err instanceof GrpcCallError &&
          err.conclaveCode === "ROOT_USER_MISSING" &&
          rootExists
        ) {
          callback({
            code: GrpcCode.FAILED_PRECONDITION,
            details: "etcdserver: root user does not have root role",
          });
          return;
        }
        callback(grpcError(err));
      },
    );
  };
}

/**
 * Conclave's role "root" is built in: it exists from the start, where etcd's
 * is created by RoleAdd (etcdctl's auth enable does so). Adding it is
 * answered as done, after the same access check as any RoleAdd.
 */
function roleAdd(bridge: RouteBridge): UntypedHandleCall {
  return (call: Call, callback: sendUnaryData<JsonObject>) => {
    const message = call.request ?? {};
    const builtIn = message["name"] === ROOT;
    // The role list route takes the same access (root) as role add: its answer carries the header.
    const answer = builtIn
      ? bridge.post("/v3/auth/role/list", {}, call).then(({ header }) => ({ header }))
      : bridge.post("/v3/auth/role/add", message, call);
    answer.then(
      (reply) => callback(null, reply),
      (err: unknown) => callback(grpcError(err)),
    );
  };
}

/**
 * A permission as the route takes it. proto3 leaves a field at its zero
 * value off the wire, and READ is the enum's zero: a grant of READ arrives
 * with no permType at all.
 */
function grantRequest(message: JsonObject): unknown {
  const perm = message["perm"];
  if (typeof perm !== "object" || perm === null) return message;
  return { ...message, perm: { permType: "READ", ...(perm as JsonObject) } };
}

/**
 * etcd's Auth service: each RPC is the HTTP route of the same name, so the
 * access table, the rate limit on Authenticate (the bridge hands the route
 * the caller's IP) and the replicated auth changes are the HTTP API's. A
 * token that stopped being valid (its user changed, it expired) is refused
 * UNAUTHENTICATED "etcdserver: invalid auth token", which makes etcd's
 * clients authenticate again.
 */
export function authService(ctx: GrpcContext): UntypedServiceImplementation {
  const handlers = unaryHandlers(ctx.bridge, {
    AuthDisable: { path: "/v3/auth/disable" },
    AuthStatus: { path: "/v3/auth/status" },
    Authenticate: { path: "/v3/auth/authenticate" },
    UserAdd: { path: "/v3/auth/user/add" },
    UserGet: { path: "/v3/auth/user/get" },
    UserList: { path: "/v3/auth/user/list" },
    UserDelete: { path: "/v3/auth/user/delete" },
    UserChangePassword: { path: "/v3/auth/user/changepw" },
    UserGrantRole: { path: "/v3/auth/user/grant" },
    UserRevokeRole: { path: "/v3/auth/user/revoke" },
    RoleGet: { path: "/v3/auth/role/get" },
    RoleList: { path: "/v3/auth/role/list" },
    RoleDelete: { path: "/v3/auth/role/delete" },
    RoleGrantPermission: { path: "/v3/auth/role/grant", request: grantRequest },
    RoleRevokePermission: { path: "/v3/auth/role/revoke" },
  });
  return { ...handlers, AuthEnable: authEnable(ctx), RoleAdd: roleAdd(ctx.bridge) };
}
