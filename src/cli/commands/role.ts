/** `conclave role add | get | list | delete | grant-permission | revoke-permission`. */
import { prefixEnd, toBytes } from "../../client/bytes.js";
import type { Flags } from "../args.js";
import type { PermissionRange, PermissionType, PermissionView } from "../client-port.js";
import type { CommandDef, CommandGroup } from "../command.js";
import { bytesJson, displayBytes } from "../output.js";

const roleArg = [{ name: "ROLE" }];
const PERMISSION_TYPES: readonly PermissionType[] = ["read", "write", "readwrite"];

const rangeFlags = {
  prefix: { type: "boolean", description: "every key starting with KEY" },
  "from-key": { type: "boolean", description: "every key >= KEY" },
} as const;

const rangeDetails =
  "KEY alone is that one key; KEY RANGE_END the keys in [KEY, RANGE_END);\n" +
  '--prefix every key starting with KEY (KEY "" --prefix: every key); --from-key every key >= KEY.';

/** The keys a permission command names, from KEY [RANGE_END] and --prefix / --from-key. */
function permissionRange(key: string, rangeEnd: string | undefined, flags: Flags): PermissionRange {
  flags.exclusive("prefix", "from-key");
  if (rangeEnd !== undefined && (flags.bool("prefix") || flags.bool("from-key"))) {
    flags.fail("RANGE_END excludes --prefix and --from-key");
  }
  if (flags.bool("prefix")) return { key, prefix: true };
  if (flags.bool("from-key")) return { key, rangeEnd: new Uint8Array([0]) };
  return rangeEnd === undefined ? { key } : { key, rangeEnd };
}

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((byte, i) => byte === b[i]);

/** A permission's keys for people: `key`, `key (prefix)`, `key and after`, or `[key, end)`. */
export function describeRange(p: { key: Uint8Array; rangeEnd?: Uint8Array }): string {
  const key = displayBytes(p.key);
  if (p.rangeEnd === undefined || p.rangeEnd.length === 0) return key;
  if (p.rangeEnd.length === 1 && p.rangeEnd[0] === 0) {
    return p.key.length === 0 ? "every key" : `${key} and every key after it`;
  }
  if (sameBytes(p.rangeEnd, prefixEnd(p.key))) return `${key} (prefix)`;
  return `[${key}, ${displayBytes(p.rangeEnd)})`;
}

function permissionJson(p: PermissionView): Record<string, unknown> {
  return {
    type: p.type,
    ...bytesJson("key", p.key),
    ...(p.rangeEnd !== undefined && bytesJson("rangeEnd", p.rangeEnd)),
  };
}

/** etcdctl's layout: the keys each role may read, then those it may write. */
export function roleLines(role: string, permissions: readonly PermissionView[]): string {
  const of = (type: "read" | "write") =>
    permissions
      .filter((p) => p.type === type || p.type === "readwrite")
      .map((p) => `\t${describeRange(p)}\n`)
      .join("");
  return `Role ${role}\nKV Read:\n${of("read")}KV Write:\n${of("write")}`;
}

const add: CommandDef = {
  spec: {
    name: "role add",
    summary: "Creates a role (with no permissions).",
    args: roleArg,
    options: {},
    details: "Example:\n  conclave role add app",
  },
  async run(ctx, [role = ""]) {
    await ctx.client().auth.roleAdd(role, ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ role, created: true });
    else ctx.out.write(`Role ${role} created\n`);
    return 0;
  },
};

const get: CommandDef = {
  spec: {
    name: "role get",
    summary: "Shows the keys a role may read and write.",
    args: roleArg,
    options: {},
    details: "Example:\n  conclave role get app",
  },
  async run(ctx, [role = ""]) {
    const { permissions } = await ctx.client().auth.roleGet(role, ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ role, permissions: permissions.map(permissionJson) });
    else ctx.out.write(roleLines(role, permissions));
    return 0;
  },
};

const list: CommandDef = {
  spec: {
    name: "role list",
    summary: "Lists every role.",
    args: [],
    options: {},
    details: "Example:\n  conclave role list",
  },
  async run(ctx) {
    const { roles } = await ctx.client().auth.roleList(ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ roles });
    else ctx.out.write(roles.map((r) => `${r}\n`).join(""));
    return 0;
  },
};

const del: CommandDef = {
  spec: {
    name: "role delete",
    summary: "Deletes a role; users holding it lose its permissions.",
    args: roleArg,
    options: {},
    details: "Example:\n  conclave role delete app",
  },
  async run(ctx, [role = ""]) {
    await ctx.client().auth.roleDelete(role, ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ role, deleted: true });
    else ctx.out.write(`Role ${role} deleted\n`);
    return 0;
  },
};

const grant: CommandDef = {
  spec: {
    name: "role grant-permission",
    summary: "Lets a role read, write or both on a key, a range or a prefix.",
    args: [
      { name: "ROLE" },
      { name: "read|write|readwrite" },
      { name: "KEY" },
      { name: "RANGE_END", optional: true },
    ],
    options: rangeFlags,
    details: `${rangeDetails}\nExample:\n  conclave role grant-permission app readwrite app/ --prefix`,
  },
  async run(ctx, [role = "", typeText = "", key = "", rangeEnd], flags) {
    const type =
      PERMISSION_TYPES.find((t) => t === typeText.toLowerCase()) ??
      flags.fail(`the permission must be read, write or readwrite, got "${typeText}"`);
    const range = permissionRange(key, rangeEnd, flags);
    await ctx.client().auth.roleGrantPermission(role, type, range, ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ role, granted: type });
    else ctx.out.write(`Role ${role} updated\n`);
    return 0;
  },
};

const revoke: CommandDef = {
  spec: {
    name: "role revoke-permission",
    summary: "Takes back a role's permission on exactly this key, range or prefix.",
    args: [{ name: "ROLE" }, { name: "KEY" }, { name: "RANGE_END", optional: true }],
    options: rangeFlags,
    details: `${rangeDetails}\nExample:\n  conclave role revoke-permission app app/ --prefix`,
  },
  async run(ctx, [role = "", key = "", rangeEnd], flags) {
    const range = permissionRange(key, rangeEnd, flags);
    await ctx.client().auth.roleRevokePermission(role, range, ctx.call);
    if (ctx.out.json) ctx.out.writeJson({ role, revoked: true });
    else
      ctx.out.write(
        `Permission of ${describePermissionRange(range)} is revoked from role ${role}\n`,
      );
    return 0;
  },
};

function describePermissionRange(range: PermissionRange): string {
  const key = toBytes(range.key);
  if (range.prefix === true) return describeRange({ key, rangeEnd: prefixEnd(key) });
  return describeRange(
    range.rangeEnd === undefined ? { key } : { key, rangeEnd: toBytes(range.rangeEnd) },
  );
}

export const roleGroup: CommandGroup = {
  name: "role",
  summary: "add, inspect and delete roles; grant and revoke their key permissions",
  commands: [add, get, list, del, grant, revoke],
};
