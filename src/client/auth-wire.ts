import { BadResponseError, ClientError } from "./errors.js";
import {
  asArray,
  asBool,
  asBytes,
  asInt,
  asObject,
  asString,
  headerRevision,
  type Json,
} from "./json-read.js";
import type { KeyRange } from "./kv-types.js";
import { keyRangeJson } from "./kv-wire.js";

/** Request and answer bodies of the /v3/auth routes, in etcd's JSON gateway spelling. */

/** What a permission allows on its keys. */
export type PermissionType = "read" | "write" | "readwrite";

const PERMISSION_TYPES: readonly PermissionType[] = ["read", "write", "readwrite"];

/**
 * A role's permission on a key range, as etcd states ranges: `rangeEnd`
 * absent is the single `key`; `[0]` is every key >= `key`; otherwise the
 * keys in [key, rangeEnd) — a prefix is the range up to its prefix end.
 */
export interface Permission {
  readonly type: PermissionType;
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
}

/** The keys a permission covers, given as for the kv calls (`prefix: true` for a prefix). */
export type PermissionRange = KeyRange;

export interface AuthStatus {
  readonly revision: number;
  readonly enabled: boolean;
  /** Counts changes to users, roles and permissions. */
  readonly authRevision: number;
}

export interface UserAddOptions {
  /** Required unless `noPassword`. */
  readonly password?: string;
  /** A user that can only be authenticated by a TLS client certificate naming it. */
  readonly noPassword?: boolean;
}

export interface UserGetResult {
  readonly revision: number;
  readonly roles: string[];
}

export interface UserListResult {
  readonly revision: number;
  readonly users: string[];
}

export interface RoleGetResult {
  readonly revision: number;
  readonly permissions: Permission[];
}

export interface RoleListResult {
  readonly revision: number;
  readonly roles: string[];
}

/** The answer of a call that only changes auth state. */
export interface AuthChangeResult {
  readonly revision: number;
}

/** A user or role name: non-empty text. */
export function checkName(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") {
    throw new ClientError("INVALID_ARGUMENT", `${what} must be a non-empty string`);
  }
  return value;
}

function checkPassword(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") {
    throw new ClientError("INVALID_ARGUMENT", `${what} must be a non-empty string`);
  }
  return value;
}

export function authenticateJson(username: string, password: string): Json {
  return { name: checkName(username, "username"), password: checkPassword(password, "password") };
}

export function authenticateResult(value: unknown): string {
  const o = asObject(value, "authenticate");
  const token = asString(o["token"], "authenticate.token");
  if (token === "") throw new BadResponseError("authenticate answered an empty token");
  return token;
}

export function userAddJson(name: string, options: UserAddOptions): Json {
  checkName(name, "user name");
  if (options.noPassword === true) {
    if (options.password !== undefined) {
      throw new ClientError("INVALID_ARGUMENT", "pass either password or noPassword, not both");
    }
    return { name, options: { no_password: true } };
  }
  return { name, password: checkPassword(options.password, `the password of user ${name}`) };
}

export function permissionJson(type: PermissionType, range: PermissionRange): Json {
  if (!PERMISSION_TYPES.includes(type)) {
    throw new ClientError(
      "INVALID_ARGUMENT",
      `permission type must be one of ${PERMISSION_TYPES.join(", ")}, got ${String(type)}`,
    );
  }
  return { permType: type.toUpperCase(), ...keyRangeJson(range) };
}

export function changeResult(value: unknown, what: string): AuthChangeResult {
  return { revision: headerRevision(asObject(value, what), what) };
}

export function authStatusResult(value: unknown): AuthStatus {
  const o = asObject(value, "auth status");
  return {
    revision: headerRevision(o, "auth status"),
    enabled: asBool(o["enabled"], "auth status.enabled"),
    authRevision: asInt(o["authRevision"], "auth status.authRevision"),
  };
}

function names(o: Json, field: string, what: string): string[] {
  return asArray(o[field], `${what}.${field}`).map((n, i) => asString(n, `${what}.${field}[${i}]`));
}

export function userGetResult(value: unknown): UserGetResult {
  const o = asObject(value, "user get");
  return { revision: headerRevision(o, "user get"), roles: names(o, "roles", "user get") };
}

export function userListResult(value: unknown): UserListResult {
  const o = asObject(value, "user list");
  return { revision: headerRevision(o, "user list"), users: names(o, "users", "user list") };
}

export function roleListResult(value: unknown): RoleListResult {
  const o = asObject(value, "role list");
  return { revision: headerRevision(o, "role list"), roles: names(o, "roles", "role list") };
}

function permission(value: unknown, what: string): Permission {
  const o = asObject(value, what);
  const wireType = asString(o["permType"], `${what}.permType`).toLowerCase();
  const type = PERMISSION_TYPES.find((t) => t === wireType);
  if (type === undefined) {
    throw new BadResponseError(`${what}.permType is not READ, WRITE or READWRITE`);
  }
  const key = asBytes(o["key"], `${what}.key`);
  const rangeEnd = o["range_end"];
  return rangeEnd === undefined || rangeEnd === ""
    ? { type, key }
    : { type, key, rangeEnd: asBytes(rangeEnd, `${what}.range_end`) };
}

export function roleGetResult(value: unknown): RoleGetResult {
  const o = asObject(value, "role get");
  return {
    revision: headerRevision(o, "role get"),
    permissions: asArray(o["perm"], "role get.perm").map((p, i) =>
      permission(p, `role get.perm[${i}]`),
    ),
  };
}
