import {
  type AuthChangeResult,
  type AuthStatus,
  authStatusResult,
  changeResult,
  checkName,
  type PermissionRange,
  type PermissionType,
  permissionJson,
  type RoleGetResult,
  type RoleListResult,
  roleGetResult,
  roleListResult,
  type UserAddOptions,
  type UserGetResult,
  type UserListResult,
  userAddJson,
  userGetResult,
  userListResult,
} from "./auth-wire.js";
import { ClientError } from "./errors.js";
import type { Json } from "./json-read.js";
import type { CallKind } from "./retry-policy.js";
import type { CallOptions, HttpTransport } from "./transport.js";

/**
 * Users, roles and permissions (`client.auth`), as etcd's Auth API. Changes
 * go through the cluster's log and have no idempotency key, so they are sent
 * again only when they certainly did not arrive (like membership changes);
 * reads are retried freely. With auth enabled, all of it but `status` and
 * `authenticate` is for root (and `userGet`/`userChangePassword` for the user
 * themself).
 */
export class AuthApi {
  constructor(private readonly transport: HttpTransport) {}

  private send(path: string, body: Json, kind: CallKind, options: CallOptions) {
    return this.transport.call({ path: `/v3/auth/${path}`, body, kind }, options);
  }

  private async change(path: string, body: Json, options: CallOptions): Promise<AuthChangeResult> {
    return changeResult(await this.send(path, body, "write", options), path);
  }

  /** A token for `username`, as the client gets one itself when given a password. */
  async authenticate(
    username: string,
    password: string,
    options: CallOptions = {},
  ): Promise<string> {
    return this.transport.authenticate(username, password, options);
  }

  /** Turns authentication on; the cluster refuses unless user "root" holds role "root". */
  async enable(options: CallOptions = {}): Promise<AuthChangeResult> {
    return this.change("enable", {}, options);
  }

  async disable(options: CallOptions = {}): Promise<AuthChangeResult> {
    return this.change("disable", {}, options);
  }

  async status(options: CallOptions = {}): Promise<AuthStatus> {
    return authStatusResult(await this.send("status", {}, "read", options));
  }

  // ---- users --------------------------------------------------------------------------

  async userAdd(name: string, options: UserAddOptions & CallOptions): Promise<AuthChangeResult> {
    return this.change("user/add", userAddJson(name, options), options);
  }

  async userGet(name: string, options: CallOptions = {}): Promise<UserGetResult> {
    const body = { name: checkName(name, "user name") };
    return userGetResult(await this.send("user/get", body, "read", options));
  }

  async userList(options: CallOptions = {}): Promise<UserListResult> {
    return userListResult(await this.send("user/list", {}, "read", options));
  }

  async userDelete(name: string, options: CallOptions = {}): Promise<AuthChangeResult> {
    return this.change("user/delete", { name: checkName(name, "user name") }, options);
  }

  async userChangePassword(
    name: string,
    password: string,
    options: CallOptions = {},
  ): Promise<AuthChangeResult> {
    const body = userAddJson(name, { password });
    return this.change("user/changepw", body, options);
  }

  async userGrantRole(
    user: string,
    role: string,
    options: CallOptions = {},
  ): Promise<AuthChangeResult> {
    const body = { user: checkName(user, "user name"), role: checkName(role, "role name") };
    return this.change("user/grant", body, options);
  }

  async userRevokeRole(
    user: string,
    role: string,
    options: CallOptions = {},
  ): Promise<AuthChangeResult> {
    const body = { name: checkName(user, "user name"), role: checkName(role, "role name") };
    return this.change("user/revoke", body, options);
  }

  // ---- roles --------------------------------------------------------------------------

  async roleAdd(name: string, options: CallOptions = {}): Promise<AuthChangeResult> {
    return this.change("role/add", { name: checkName(name, "role name") }, options);
  }

  async roleGet(role: string, options: CallOptions = {}): Promise<RoleGetResult> {
    const body = { role: checkName(role, "role name") };
    return roleGetResult(await this.send("role/get", body, "read", options));
  }

  async roleList(options: CallOptions = {}): Promise<RoleListResult> {
    return roleListResult(await this.send("role/list", {}, "read", options));
  }

  async roleDelete(role: string, options: CallOptions = {}): Promise<AuthChangeResult> {
    return this.change("role/delete", { role: checkName(role, "role name") }, options);
  }

  /** Lets `role` read, write or both on a key, a range or a prefix. */
  async roleGrantPermission(
    role: string,
    type: PermissionType,
    range: PermissionRange,
    options: CallOptions = {},
  ): Promise<AuthChangeResult> {
    const body = {
      name: checkName(role, "role name"),
      perm: permissionJson(type, checkRange(range)),
    };
    return this.change("role/grant", body, options);
  }

  /** Takes back the permission on exactly this key, range or prefix. */
  async roleRevokePermission(
    role: string,
    range: PermissionRange,
    options: CallOptions = {},
  ): Promise<AuthChangeResult> {
    const { permType: _, ...keys } = permissionJson("read", checkRange(range));
    return this.change("role/revoke", { role: checkName(role, "role name"), ...keys }, options);
  }
}

function checkRange(range: PermissionRange): PermissionRange {
  if (typeof range !== "object" || range === null || range.key === undefined) {
    throw new ClientError("INVALID_ARGUMENT", "a permission needs a key");
  }
  if (range.prefix === true && range.rangeEnd !== undefined) {
    throw new ClientError("INVALID_ARGUMENT", "pass either prefix or rangeEnd, not both");
  }
  return range;
}
