import { describe, expect, it } from "vitest";
import { canRead, canWrite, commandAccess, isRoot, requireAccess } from "../../src/auth/index.js";
import { type AuthAction, KvStore, prefixEnd, utf8 } from "../../src/kv/index.js";

const HASH = `$2a$04$${"a".repeat(53)}`;
const ALL = Uint8Array.of(0);

/** A store with users and roles applied through the log's path, as a replica would. */
function storeWith(actions: AuthAction[]): KvStore {
  const store = new KvStore();
  actions.forEach((action, i) => {
    const r = store.apply(i + 1, { type: "auth", action });
    if (r.type === "error") throw r.error;
  });
  return store;
}

const grant = (
  name: string,
  permType: "read" | "write" | "readwrite",
  key: string,
  rangeEnd?: Uint8Array,
): AuthAction => ({
  kind: "roleGrantPermission",
  name,
  permission: { permType, key: utf8(key), ...(rangeEnd !== undefined && { rangeEnd }) },
});

const base: AuthAction[] = [
  { kind: "userAdd", name: "root", passwordHash: HASH },
  { kind: "userGrantRole", name: "root", role: "root" },
  { kind: "userAdd", name: "u", passwordHash: HASH },
  { kind: "roleAdd", name: "prefix" },
  grant("prefix", "read", "a/", prefixEnd(utf8("a/"))),
  { kind: "roleAdd", name: "single" },
  grant("single", "write", "k"),
  { kind: "roleAdd", name: "from-m" },
  grant("from-m", "readwrite", "m", ALL),
  { kind: "userGrantRole", name: "u", role: "prefix" },
  { kind: "userGrantRole", name: "u", role: "single" },
];

describe("permission checks", () => {
  const view = storeWith(base).auth;

  it("reads a prefix grant as every key under it and nothing beside it", () => {
    expect(canRead(view, "u", utf8("a/x"))).toBe(true);
    expect(canRead(view, "u", utf8("a/"), prefixEnd(utf8("a/")))).toBe(true);
    expect(canRead(view, "u", utf8("a/b/"), utf8("a/c"))).toBe(true);
    expect(canRead(view, "u", utf8("a"))).toBe(false);
    expect(canRead(view, "u", utf8("a0"))).toBe(false);
    expect(canRead(view, "u", utf8("a/"), utf8("b"))).toBe(false);
    expect(canRead(view, "u", utf8("a/"), ALL)).toBe(false);
    expect(canWrite(view, "u", utf8("a/x"))).toBe(false);
  });

  it("reads a grant without range_end as one key", () => {
    expect(canWrite(view, "u", utf8("k"))).toBe(true);
    expect(canWrite(view, "u", utf8("k0"))).toBe(false);
    expect(canWrite(view, "u", utf8("k"), utf8("l"))).toBe(false);
    expect(canRead(view, "u", utf8("k"))).toBe(false);
  });

  it("reads range_end \\0 as every key from key, and readwrite as both", () => {
    const store = storeWith([...base, { kind: "userGrantRole", name: "u", role: "from-m" }]);
    expect(canWrite(store.auth, "u", utf8("zzz"))).toBe(true);
    expect(canRead(store.auth, "u", utf8("m"), ALL)).toBe(true);
    expect(canRead(store.auth, "u", utf8("l"), ALL)).toBe(false);
  });

  it("merges adjacent grants of several roles into one covered range", () => {
    const store = storeWith([
      ...base,
      { kind: "roleAdd", name: "b-to-c" },
      grant("b-to-c", "read", "b", utf8("c")),
      { kind: "roleAdd", name: "c-to-d" },
      grant("c-to-d", "read", "c", utf8("d")),
      { kind: "userGrantRole", name: "u", role: "b-to-c" },
      { kind: "userGrantRole", name: "u", role: "c-to-d" },
    ]);
    expect(canRead(store.auth, "u", utf8("b"), utf8("d"))).toBe(true);
    expect(canRead(store.auth, "u", utf8("b"), utf8("d0"))).toBe(false);
  });

  it("lets root do anything and an unknown user nothing", () => {
    expect(isRoot(view, "root")).toBe(true);
    expect(canWrite(view, "root", utf8("\u0000"), ALL)).toBe(true);
    expect(canRead(view, "nobody", utf8("a/x"))).toBe(false);
  });

  it("takes a permission away with its role, its revoke, or the role's deletion", () => {
    const revokedRole = storeWith([...base, { kind: "userRevokeRole", name: "u", role: "prefix" }]);
    expect(canRead(revokedRole.auth, "u", utf8("a/x"))).toBe(false);
    const revokedPerm = storeWith([
      ...base,
      {
        kind: "roleRevokePermission",
        name: "prefix",
        key: utf8("a/"),
        rangeEnd: prefixEnd(utf8("a/")),
      },
    ]);
    expect(canRead(revokedPerm.auth, "u", utf8("a/x"))).toBe(false);
    const deleted = storeWith([...base, { kind: "roleDelete", name: "prefix" }]);
    expect(canRead(deleted.auth, "u", utf8("a/x"))).toBe(false);
    expect(deleted.auth.user("u")?.roles).toEqual(["single"]);
  });
});

describe("the keys a command touches", () => {
  it("includes compares and both branches of every nested txn", () => {
    const accesses = commandAccess({
      type: "txn",
      compare: [{ key: utf8("c"), target: "version", result: "equal", value: 0 }],
      success: [{ type: "put", key: utf8("p"), value: utf8("") }],
      failure: [
        {
          type: "txn",
          compare: [],
          success: [],
          failure: [{ type: "deleteRange", key: utf8("d"), rangeEnd: utf8("e"), prevKv: true }],
        },
      ],
    });
    expect(accesses.map((a) => `${a.mode} ${Buffer.from(a.key)}`)).toEqual([
      "read c",
      "write p",
      "write d",
      "read d",
    ]);
  });

  it("names the refused key", () => {
    const view = storeWith(base).auth;
    expect(() =>
      requireAccess(view, "u", [
        { mode: "read", key: utf8("a/x") },
        { mode: "write", key: utf8("b/y") },
      ]),
    ).toThrow(/may not write key "b\/y"/);
  });
});
