/**
 * The replicated part of client authentication: users, roles and their key
 * permissions, whether auth is on, and the key tokens are signed with. It is
 * state the log carries (as etcd keeps its auth store beside the key space),
 * so the store applies it; deciding who may do what lives in src/auth.
 */

export type PermissionType = "read" | "write" | "readwrite";

/** A permission on one key (no rangeEnd), every key >= key (rangeEnd [0x00]) or [key, rangeEnd). */
export interface AuthPermission {
  readonly permType: PermissionType;
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
}

export interface AuthUser {
  readonly name: string;
  /** A bcrypt hash; absent for a user that may only authenticate by certificate. */
  readonly passwordHash?: string;
  /** Sorted role names. */
  readonly roles: readonly string[];
  /**
   * The auth revision of this user's last change (added, password changed,
   * a role granted, revoked or deleted): a token issued before it is stale.
   */
  readonly revision: number;
}

export interface AuthRole {
  readonly name: string;
  readonly permissions: readonly AuthPermission[];
}

/** The role that may do everything; it always exists and carries no permission list. */
export const ROOT_ROLE = "root";
/** The user `enable` requires, holding the root role. */
export const ROOT_USER = "root";

export type AuthAction =
  /** `signingKey` is random bytes chosen by the member that handled the request. */
  | { readonly kind: "enable"; readonly signingKey: Uint8Array }
  | { readonly kind: "disable" }
  /** No passwordHash: the user cannot authenticate with a password. */
  | { readonly kind: "userAdd"; readonly name: string; readonly passwordHash?: string }
  | { readonly kind: "userDelete"; readonly name: string }
  | { readonly kind: "userChangePassword"; readonly name: string; readonly passwordHash: string }
  | { readonly kind: "userGrantRole"; readonly name: string; readonly role: string }
  | { readonly kind: "userRevokeRole"; readonly name: string; readonly role: string }
  | { readonly kind: "roleAdd"; readonly name: string }
  | { readonly kind: "roleDelete"; readonly name: string }
  | {
      readonly kind: "roleGrantPermission";
      readonly name: string;
      readonly permission: AuthPermission;
    }
  | {
      readonly kind: "roleRevokePermission";
      readonly name: string;
      readonly key: Uint8Array;
      readonly rangeEnd?: Uint8Array;
    };

export interface AuthCommand {
  readonly type: "auth";
  readonly action: AuthAction;
}

export interface AuthResult {
  readonly type: "auth";
  /** The key space's revision (auth changes do not move it). */
  readonly revision: number;
  readonly authRevision: number;
}

/** What the permission checker and the token verifier read. */
export interface AuthView {
  readonly enabled: boolean;
  readonly authRevision: number;
  /** Present while auth is enabled. */
  readonly signingKey: Uint8Array | undefined;
  user(name: string): AuthUser | undefined;
  role(name: string): AuthRole | undefined;
  userNames(): string[];
  roleNames(): string[];
}
