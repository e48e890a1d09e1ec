import {
  AuthManagementError,
  NotGrantedError,
  RoleExistsError,
  RoleNotFoundError,
  RootUserMissingError,
  UserExistsError,
  UserNotFoundError,
} from "./auth-errors.js";
import {
  type AuthAction,
  type AuthPermission,
  type AuthRole,
  type AuthUser,
  type AuthView,
  ROOT_ROLE,
  ROOT_USER,
} from "./auth-types.js";
import { authName, BCRYPT_HASH_PATTERN, validatePermission } from "./auth-validate.js";
import { compareBytes } from "./bytes.js";
import { InvalidKvCommandError } from "./errors.js";

/** The snapshot form: plain arrays and bytes, read back through the same validation as commands. */
export interface AuthWire {
  readonly enabled: boolean;
  readonly revision: number;
  readonly signingKey?: Uint8Array;
  /** [name, bcrypt hash or null, roles, user revision] */
  readonly users: [string, string | null, string[], number][];
  /** [name, permissions] */
  readonly roles: [string, AuthPermission[]][];
}

const sameRange = (a: AuthPermission, key: Uint8Array, rangeEnd: Uint8Array | undefined) =>
  compareBytes(a.key, key) === 0 &&
  compareBytes(a.rangeEnd ?? new Uint8Array(), rangeEnd ?? new Uint8Array()) === 0;

/**
 * Users, roles and the enabled flag as applied from the log. Deterministic:
 * the signing key arrives inside the `enable` command, never made here.
 * Every change that succeeds moves the auth revision by one.
 */
export class AuthTable implements AuthView {
  #enabled = false;
  #revision = 1;
  #signingKey: Uint8Array | undefined;
  readonly #users = new Map<string, AuthUser>();
  readonly #roles = new Map<string, AuthRole>();

  get enabled(): boolean {
    return this.#enabled;
  }
  get authRevision(): number {
    return this.#revision;
  }
  get signingKey(): Uint8Array | undefined {
    return this.#signingKey;
  }

  user(name: string): AuthUser | undefined {
    return this.#users.get(name);
  }

  role(name: string): AuthRole | undefined {
    if (name === ROOT_ROLE) return { name, permissions: [] };
    return this.#roles.get(name);
  }

  userNames(): string[] {
    return [...this.#users.keys()].sort();
  }

  roleNames(): string[] {
    return [ROOT_ROLE, ...this.#roles.keys()].sort();
  }

  /** Applies one validated action; throws an AuthStateError (and changes nothing) if refused. */
  apply(action: AuthAction): number {
    const next = this.#revision + 1;
    switch (action.kind) {
      case "enable": {
        if (this.#enabled) return this.#revision;
        if (!this.user(ROOT_USER)?.roles.includes(ROOT_ROLE)) throw new RootUserMissingError();
        this.#enabled = true;
        this.#signingKey = Uint8Array.from(action.signingKey);
        break;
      }
      case "disable": {
        if (!this.#enabled) return this.#revision;
        this.#enabled = false;
        // A later enable brings a new key, so tokens of this period never come back to life.
        this.#signingKey = undefined;
        break;
      }
      case "userAdd": {
        if (this.#users.has(action.name)) throw new UserExistsError(action.name);
        this.#users.set(action.name, {
          name: action.name,
          ...(action.passwordHash !== undefined && { passwordHash: action.passwordHash }),
          roles: [],
          revision: next,
        });
        break;
      }
      case "userDelete": {
        this.requireUser(action.name);
        if (this.#enabled && action.name === ROOT_USER) {
          throw new AuthManagementError("the root user cannot be deleted while auth is enabled");
        }
        this.#users.delete(action.name);
        break;
      }
      case "userChangePassword": {
        const user = this.requireUser(action.name);
        this.#users.set(user.name, { ...user, passwordHash: action.passwordHash, revision: next });
        break;
      }
      case "userGrantRole": {
        const user = this.requireUser(action.name);
        this.requireRole(action.role);
        if (user.roles.includes(action.role)) return this.#revision;
        const roles = [...user.roles, action.role].sort();
        this.#users.set(user.name, { ...user, roles, revision: next });
        break;
      }
      case "userRevokeRole": {
        const user = this.requireUser(action.name);
        if (!user.roles.includes(action.role)) {
          throw new NotGrantedError(`user ${JSON.stringify(user.name)} lacks role ${action.role}`);
        }
        if (this.#enabled && user.name === ROOT_USER && action.role === ROOT_ROLE) {
          throw new AuthManagementError("root cannot lose the root role while auth is enabled");
        }
        const roles = user.roles.filter((r) => r !== action.role);
        this.#users.set(user.name, { ...user, roles, revision: next });
        break;
      }
      case "roleAdd": {
        if (this.role(action.name) !== undefined) throw new RoleExistsError(action.name);
        this.#roles.set(action.name, { name: action.name, permissions: [] });
        break;
      }
      case "roleDelete": {
        this.requireRole(action.name);
        if (action.name === ROOT_ROLE) throw new AuthManagementError("the root role is built in");
        this.#roles.delete(action.name);
        // Holders lose it, and their tokens go stale: their roles changed.
        for (const user of [...this.#users.values()]) {
          if (!user.roles.includes(action.name)) continue;
          const roles = user.roles.filter((r) => r !== action.name);
          this.#users.set(user.name, { ...user, roles, revision: next });
        }
        break;
      }
      case "roleGrantPermission": {
        const role = this.requireMutableRole(action.name);
        const { key, rangeEnd } = action.permission;
        // etcd: granting the same range again replaces its type.
        const kept = role.permissions.filter((p) => !sameRange(p, key, rangeEnd));
        const permissions = [...kept, action.permission].sort(
          (a, b) =>
            compareBytes(a.key, b.key) ||
            compareBytes(a.rangeEnd ?? new Uint8Array(), b.rangeEnd ?? new Uint8Array()),
        );
        this.#roles.set(role.name, { name: role.name, permissions });
        break;
      }
      case "roleRevokePermission": {
        const role = this.requireMutableRole(action.name);
        const permissions = role.permissions.filter(
          (p) => !sameRange(p, action.key, action.rangeEnd),
        );
        if (permissions.length === role.permissions.length) {
          throw new NotGrantedError(`role ${JSON.stringify(role.name)} has no such permission`);
        }
        this.#roles.set(role.name, { name: role.name, permissions });
        break;
      }
    }
    this.#revision = next;
    return next;
  }

  private requireUser(name: string): AuthUser {
    const user = this.#users.get(name);
    if (user === undefined) throw new UserNotFoundError(name);
    return user;
  }

  private requireRole(name: string): AuthRole {
    const role = this.role(name);
    if (role === undefined) throw new RoleNotFoundError(name);
    return role;
  }

  private requireMutableRole(name: string): AuthRole {
    const role = this.requireRole(name);
    if (name === ROOT_ROLE) throw new AuthManagementError("the root role is built in");
    return role;
  }

  toWire(): AuthWire {
    return {
      enabled: this.#enabled,
      revision: this.#revision,
      ...(this.#signingKey !== undefined && { signingKey: this.#signingKey }),
      users: [...this.#users.values()].map((u) => [
        u.name,
        u.passwordHash ?? null,
        [...u.roles],
        u.revision,
      ]),
      roles: [...this.#roles.values()].map((r) => [r.name, [...r.permissions]]),
    };
  }

  /** Replaces the table with a snapshot's; absent (an older snapshot) means auth off, no users. */
  restore(wire: AuthWire | undefined): void {
    this.#users.clear();
    this.#roles.clear();
    this.#enabled = wire?.enabled ?? false;
    this.#revision = wire?.revision ?? 1;
    this.#signingKey = wire?.signingKey;
    for (const [name, permissions] of wire?.roles ?? [])
      this.#roles.set(name, { name, permissions });
    for (const [name, hash, roles, revision] of wire?.users ?? []) {
      this.#users.set(name, {
        name,
        ...(hash !== null && { passwordHash: hash }),
        roles,
        revision,
      });
    }
  }
}

function corrupt(what: string): never {
  throw new InvalidKvCommandError(`kv snapshot is corrupt: auth ${what}`);
}

function count(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) corrupt(what);
  return v;
}

/** Validates a snapshot header's optional auth field. */
export function parseAuthWire(value: unknown): AuthWire | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null) corrupt("state");
  const f = value as Record<string, unknown>;
  if (typeof f["enabled"] !== "boolean") corrupt("enabled");
  const key = f["signingKey"];
  if (key !== undefined && !(key instanceof Uint8Array && key.byteLength >= 32)) corrupt("key");
  if (f["enabled"] && key === undefined) corrupt("key");
  if (!Array.isArray(f["users"]) || !Array.isArray(f["roles"])) corrupt("tables");
  const roles = (f["roles"] as unknown[]).map((r): [string, AuthPermission[]] => {
    if (!Array.isArray(r) || !Array.isArray(r[1])) corrupt("role");
    return [authName(r[0], "role"), r[1].map((p: unknown) => validatePermission(p, "permission"))];
  });
  const users = (f["users"] as unknown[]).map((u): [string, string | null, string[], number] => {
    if (!Array.isArray(u) || !Array.isArray(u[2])) corrupt("user");
    const hash = u[1];
    if (hash !== null && !(typeof hash === "string" && BCRYPT_HASH_PATTERN.test(hash))) {
      corrupt("password hash");
    }
    return [
      authName(u[0], "user"),
      hash as string | null,
      u[2].map((r: unknown) => authName(r, "role")),
      count(u[3], "user revision"),
    ];
  });
  return {
    enabled: f["enabled"] as boolean,
    revision: count(f["revision"], "revision"),
    ...(key !== undefined && { signingKey: Uint8Array.from(key as Uint8Array) }),
    users,
    roles,
  };
}
