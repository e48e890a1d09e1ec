import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  AuthFailedError,
  AuthFailureLimiter,
  AuthLockedOutError,
  AuthNotEnabledError,
  hashPassword,
  PasswordGate,
  signUserToken,
  TooManyPasswordChecksError,
  verifyPassword,
} from "../auth/index.js";
import {
  type AuthAction,
  type AuthPermission,
  type PermissionType,
  RoleNotFoundError,
  UserNotFoundError,
} from "../kv/index.js";
import { LogThrottle } from "../log-throttle.js";
import type { ResolvedAuthOptions } from "./auth-options.js";
import { decodeBase64, encodeBase64 } from "./base64.js";
import { hostKey } from "./client-identity.js";
import { BadRequestError } from "./errors.js";
import type { KvAccess } from "./kv-access.js";
import { header } from "./wire.js";

/** Bytes of the token signing key that `enable` generates. */
const SIGNING_KEY_BYTES = 32;

const name = { type: "string", minLength: 1, maxLength: 256 } as const;
const password = { type: "string", maxLength: 1024 } as const;
const permTypeJson = { enum: ["READ", "WRITE", "READWRITE"] } as const;

function body(properties: Record<string, unknown>, required: string[] = Object.keys(properties)) {
  return { type: "object", properties, required, additionalProperties: false } as const;
}
const emptyBody = {
  type: ["object", "null"],
  properties: {},
  additionalProperties: false,
} as const;

type PermTypeJson = "READ" | "WRITE" | "READWRITE";
interface PermJson {
  permType: PermTypeJson;
  key: string;
  range_end?: string;
}
const permSchema = body(
  { permType: permTypeJson, key: { type: "string" }, range_end: { type: "string" } },
  ["permType", "key"],
);

const TO_KV: Record<PermTypeJson, PermissionType> = {
  READ: "read",
  WRITE: "write",
  READWRITE: "readwrite",
};
const TO_JSON: Record<PermissionType, PermTypeJson> = {
  read: "READ",
  write: "WRITE",
  readwrite: "READWRITE",
};

function keyOf(text: string, field: string): Uint8Array {
  const key = decodeBase64(text, field);
  if (key.byteLength === 0) throw new BadRequestError(`${field} must not be empty`);
  return key;
}

function rangeEndOf(text: string | undefined): Uint8Array | undefined {
  if (text === undefined) return undefined;
  const end = decodeBase64(text, "range_end");
  return end.byteLength === 0 ? undefined : end;
}

function permissionJson(p: AuthPermission): PermJson {
  return {
    permType: TO_JSON[p.permType],
    key: encodeBase64(p.key),
    ...(p.rangeEnd !== undefined && { range_end: encodeBase64(p.rangeEnd) }),
  };
}

/** The `/v3/auth/*` routes, as etcd's JSON gateway; who may call each is in route-access.ts. */
export function registerAuthRoutes(
  app: FastifyInstance,
  kv: KvAccess,
  options: ResolvedAuthOptions,
): void {
  const change = async (action: AuthAction, req: FastifyRequest) => {
    const result = await kv.write({ type: "auth", action }, req);
    return { header: header(result.revision) };
  };
  const read = <T>(f: () => T) =>
    kv.read(false, () => ({ header: header(kv.store.revision), ...f() }));
  const view = () => kv.store.auth;
  const gate = new PasswordGate(options.maxConcurrentPasswordChecks);
  const hash = (password: string) => gate.run(() => hashPassword(password, options.bcryptCost));

  const failures = new AuthFailureLimiter(options.failureLimits, options.failureClockMs);
  const lockoutLog = new LogThrottle(app.log);

  const authenticate = async (name: string, password: string) => {
    // After ReadIndex, so a password changed a moment ago on another member is the one checked.
    await kv.read(false, () => undefined);
    const auth = view();
    const key = auth.signingKey;
    if (!auth.enabled || key === undefined) throw new AuthNotEnabledError("authenticate");
    const user = auth.user(name);
    const ok = await verifyPassword(password, user?.passwordHash, options.bcryptCost);
    if (!ok || user === undefined) throw new AuthFailedError();
    // The revision seen before the check: a change during it leaves this token already stale.
    const token = await signUserToken(
      { user: user.name, revision: user.revision },
      key,
      options.nowMs(),
      options.tokenTtlMs,
    );
    return { header: header(kv.store.revision), token };
  };

  app.post<{ Body: { name: string; password: string } }>(
    "/v3/auth/authenticate",
    { schema: { body: body({ name, password }) } },
    async (req, reply) => {
      const { name, password } = req.body;
      const host = `host:${hostKey(req.socket.remoteAddress)}`;
      const keys = [host, `user:${name}`];
      try {
        // Before the gate and any password work: a locked-out flood costs a lookup each.
        failures.check(keys);
        // The whole attempt holds a slot, its ReadIndex wait included: that is what a flood piles up.
        const answer = await gate.run(() => authenticate(name, password));
        failures.clear(host);
        return answer;
      } catch (error) {
        if (error instanceof AuthFailedError) {
          for (const { key, lockoutMs } of failures.failed(keys)) {
            // One line per kind per interval: a guesser spraying names or hosts starts many.
            // The name tried is not logged: it may be a password typed in the wrong field.
            const fields = key === host ? { client: host.slice(5), lockoutMs } : { lockoutMs };
            lockoutLog.warn(
              key === host ? "lockout host" : "lockout user",
              fields,
              "too many failed authentications: refusing further attempts for a while",
            );
          }
        }
        if (error instanceof AuthLockedOutError) {
          void reply.header("retry-after", String(Math.ceil(error.retryAfterMs / 1000)));
        } else if (error instanceof TooManyPasswordChecksError) {
          // A running check takes tens of milliseconds: a second is ample.
          void reply.header("retry-after", "1");
        }
        throw error;
      }
    },
  );

  app.post("/v3/auth/enable", { schema: { body: emptyBody } }, async (req) =>
    change({ kind: "enable", signingKey: new Uint8Array(randomBytes(SIGNING_KEY_BYTES)) }, req),
  );

  app.post("/v3/auth/disable", { schema: { body: emptyBody } }, async (req) =>
    change({ kind: "disable" }, req),
  );

  app.post("/v3/auth/status", { schema: { body: emptyBody } }, async () =>
    read(() => ({ enabled: view().enabled, authRevision: String(view().authRevision) })),
  );

  app.post<{ Body: { name: string; password?: string; options?: { no_password?: boolean } } }>(
    "/v3/auth/user/add",
    {
      schema: {
        body: body(
          {
            name,
            password,
            options: body({ no_password: { type: "boolean" } }, []),
          },
          ["name"],
        ),
      },
    },
    async (req) => {
      const noPassword = req.body.options?.no_password === true;
      const pw = req.body.password ?? "";
      if (noPassword && pw !== "") {
        throw new BadRequestError("a user with options.no_password set takes no password");
      }
      if (!noPassword && pw === "") {
        throw new BadRequestError("password is required unless options.no_password is set");
      }
      const passwordHash = noPassword ? undefined : await hash(pw);
      return change(
        passwordHash === undefined
          ? { kind: "userAdd", name: req.body.name }
          : { kind: "userAdd", name: req.body.name, passwordHash },
        req,
      );
    },
  );

  app.post<{ Body: { name: string } }>(
    "/v3/auth/user/get",
    { schema: { body: body({ name }) } },
    async (req) =>
      read(() => {
        const user = view().user(req.body.name);
        if (user === undefined) throw new UserNotFoundError(req.body.name);
        return { roles: [...user.roles] };
      }),
  );

  app.post("/v3/auth/user/list", { schema: { body: emptyBody } }, async () =>
    read(() => ({ users: view().userNames() })),
  );

  app.post<{ Body: { name: string } }>(
    "/v3/auth/user/delete",
    { schema: { body: body({ name }) } },
    async (req) => change({ kind: "userDelete", name: req.body.name }, req),
  );

  app.post<{ Body: { name: string; password: string } }>(
    "/v3/auth/user/changepw",
    { schema: { body: body({ name, password }) } },
    async (req) => {
      if (req.body.password === "") throw new BadRequestError("password must not be empty");
      const passwordHash = await hash(req.body.password);
      return change({ kind: "userChangePassword", name: req.body.name, passwordHash }, req);
    },
  );

  app.post<{ Body: { user: string; role: string } }>(
    "/v3/auth/user/grant",
    { schema: { body: body({ user: name, role: name }) } },
    async (req) => change({ kind: "userGrantRole", name: req.body.user, role: req.body.role }, req),
  );

  app.post<{ Body: { name: string; role: string } }>(
    "/v3/auth/user/revoke",
    { schema: { body: body({ name, role: name }) } },
    async (req) =>
      change({ kind: "userRevokeRole", name: req.body.name, role: req.body.role }, req),
  );

  app.post<{ Body: { name: string } }>(
    "/v3/auth/role/add",
    { schema: { body: body({ name }) } },
    async (req) => change({ kind: "roleAdd", name: req.body.name }, req),
  );

  app.post<{ Body: { role: string } }>(
    "/v3/auth/role/get",
    { schema: { body: body({ role: name }) } },
    async (req) =>
      read(() => {
        const role = view().role(req.body.role);
        if (role === undefined) throw new RoleNotFoundError(req.body.role);
        return { perm: role.permissions.map(permissionJson) };
      }),
  );

  app.post("/v3/auth/role/list", { schema: { body: emptyBody } }, async () =>
    read(() => ({ roles: view().roleNames() })),
  );

  app.post<{ Body: { role: string } }>(
    "/v3/auth/role/delete",
    { schema: { body: body({ role: name }) } },
    async (req) => change({ kind: "roleDelete", name: req.body.role }, req),
  );

  app.post<{ Body: { name: string; perm: PermJson } }>(
    "/v3/auth/role/grant",
    { schema: { body: body({ name, perm: permSchema }) } },
    async (req) => {
      const { perm } = req.body;
      const rangeEnd = rangeEndOf(perm.range_end);
      const permission: AuthPermission = {
        permType: TO_KV[perm.permType],
        key: keyOf(perm.key, "perm.key"),
        ...(rangeEnd !== undefined && { rangeEnd }),
      };
      return change({ kind: "roleGrantPermission", name: req.body.name, permission }, req);
    },
  );

  app.post<{ Body: { role: string; key: string; range_end?: string } }>(
    "/v3/auth/role/revoke",
    {
      schema: {
        body: body({ role: name, key: { type: "string" }, range_end: { type: "string" } }, [
          "role",
          "key",
        ]),
      },
    },
    async (req) => {
      const rangeEnd = rangeEndOf(req.body.range_end);
      return change(
        {
          kind: "roleRevokePermission",
          name: req.body.role,
          key: keyOf(req.body.key, "key"),
          ...(rangeEnd !== undefined && { rangeEnd }),
        },
        req,
      );
    },
  );
}
