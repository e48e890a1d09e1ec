import type { AuthAction, AuthCommand, AuthPermission, PermissionType } from "./auth-types.js";
import { InvalidKvCommandError } from "./errors.js";

const MAX_NAME_BYTES = 256;
const MAX_KEY_BYTES = 64 * 1024;
const MIN_SIGNING_KEY_BYTES = 32;
const MAX_SIGNING_KEY_BYTES = 64;
/** A bcrypt hash as bcrypt libraries write it: never a password, always 60 characters. */
export const BCRYPT_HASH_PATTERN = /^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$/;
const PERMISSION_TYPES: readonly PermissionType[] = ["read", "write", "readwrite"];

type Fields = Record<string, unknown>;

function fail(message: string): never {
  throw new InvalidKvCommandError(`auth: ${message}`);
}

function fields(value: unknown, what: string, allowed: readonly string[]): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(`${what} must be an object`);
  }
  const f = value as Fields;
  for (const name of Object.keys(f)) {
    if (!allowed.includes(name) && f[name] !== undefined)
      fail(`${what} has unknown field "${name}"`);
  }
  return f;
}

/** User and role names: non-empty text, short enough to log and to carry in a token. */
export function authName(value: unknown, what: string): string {
  if (
    typeof value !== "string" ||
    value.length === 0 ||
    Buffer.byteLength(value) > MAX_NAME_BYTES
  ) {
    fail(`${what} must be a non-empty string of at most ${MAX_NAME_BYTES} bytes`);
  }
  return value;
}

function passwordHash(value: unknown): string {
  if (typeof value !== "string" || !BCRYPT_HASH_PATTERN.test(value)) {
    fail("passwordHash must be a bcrypt hash");
  }
  return value;
}

function keyBytes(value: unknown, what: string, nonEmpty: boolean): Uint8Array {
  if (!(value instanceof Uint8Array) || value.byteLength > MAX_KEY_BYTES) {
    fail(`${what} must be at most ${MAX_KEY_BYTES} bytes`);
  }
  if (nonEmpty && value.byteLength === 0) fail(`${what} must not be empty`);
  return Uint8Array.from(value);
}

function optionalRangeEnd(value: unknown, what: string): Uint8Array | undefined {
  if (value === undefined) return undefined;
  const bytes = keyBytes(value, what, false);
  return bytes.byteLength === 0 ? undefined : bytes;
}

export function validatePermission(raw: unknown, what: string): AuthPermission {
  const f = fields(raw, what, ["permType", "key", "rangeEnd"]);
  const permType = f["permType"];
  if (typeof permType !== "string" || !(PERMISSION_TYPES as string[]).includes(permType)) {
    fail(`${what}.permType must be one of ${PERMISSION_TYPES.join(", ")}`);
  }
  const rangeEnd = optionalRangeEnd(f["rangeEnd"], `${what}.rangeEnd`);
  return {
    permType: permType as PermissionType,
    key: keyBytes(f["key"], `${what}.key`, true),
    ...(rangeEnd !== undefined && { rangeEnd }),
  };
}

function validateAction(raw: unknown): AuthAction {
  const kind = (raw as { kind?: unknown } | null)?.kind;
  const what = "auth.action";
  switch (kind) {
    case "enable": {
      const f = fields(raw, what, ["kind", "signingKey"]);
      const key = f["signingKey"];
      if (
        !(key instanceof Uint8Array) ||
        key.byteLength < MIN_SIGNING_KEY_BYTES ||
        key.byteLength > MAX_SIGNING_KEY_BYTES
      ) {
        fail(`signingKey must be ${MIN_SIGNING_KEY_BYTES} to ${MAX_SIGNING_KEY_BYTES} bytes`);
      }
      return { kind, signingKey: Uint8Array.from(key) };
    }
    case "disable":
      fields(raw, what, ["kind"]);
      return { kind };
    case "userAdd": {
      const f = fields(raw, what, ["kind", "name", "passwordHash"]);
      const name = authName(f["name"], "name");
      return f["passwordHash"] === undefined
        ? { kind, name }
        : { kind, name, passwordHash: passwordHash(f["passwordHash"]) };
    }
    case "userChangePassword": {
      const f = fields(raw, what, ["kind", "name", "passwordHash"]);
      return {
        kind,
        name: authName(f["name"], "name"),
        passwordHash: passwordHash(f["passwordHash"]),
      };
    }
    case "userDelete":
    case "roleAdd":
    case "roleDelete": {
      const f = fields(raw, what, ["kind", "name"]);
      return { kind, name: authName(f["name"], "name") };
    }
    case "userGrantRole":
    case "userRevokeRole": {
      const f = fields(raw, what, ["kind", "name", "role"]);
      return { kind, name: authName(f["name"], "name"), role: authName(f["role"], "role") };
    }
    case "roleGrantPermission": {
      const f = fields(raw, what, ["kind", "name", "permission"]);
      return {
        kind,
        name: authName(f["name"], "name"),
        permission: validatePermission(f["permission"], "permission"),
      };
    }
    case "roleRevokePermission": {
      const f = fields(raw, what, ["kind", "name", "key", "rangeEnd"]);
      const rangeEnd = optionalRangeEnd(f["rangeEnd"], "rangeEnd");
      return {
        kind,
        name: authName(f["name"], "name"),
        key: keyBytes(f["key"], "key", true),
        ...(rangeEnd !== undefined && { rangeEnd }),
      };
    }
    default:
      fail(`action kind ${JSON.stringify(kind)} is not known`);
  }
}

/** Checks an untrusted auth command (from the log or a caller) field by field. */
export function validateAuthCommand(raw: unknown): AuthCommand {
  const f = fields(raw, "auth command", ["type", "action"]);
  return { type: "auth", action: validateAction(f["action"]) };
}
