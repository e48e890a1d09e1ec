import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { decodeCommand, encodeCommand, KvStore, utf8 } from "../../src/kv/index.js";

const HASH = `$2a$04$${"b".repeat(53)}`;
const KEY = new Uint8Array(32).fill(7);

async function* chunks(...parts: Uint8Array[]) {
  yield* parts;
}

async function bytesOf(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

function applyAll(store: KvStore, first: number, commands: Parameters<typeof encodeCommand>[0][]) {
  return commands.map((c, i) => store.apply({ index: first + i, term: 1, data: encodeCommand(c) }));
}

describe("auth commands in the store", () => {
  it("applies through encoded log entries, moving the auth revision and not the key space's", () => {
    const store = new KvStore();
    const results = applyAll(store, 1, [
      { type: "auth", action: { kind: "userAdd", name: "root", passwordHash: HASH } },
      { type: "auth", action: { kind: "userGrantRole", name: "root", role: "root" } },
      { type: "auth", action: { kind: "enable", signingKey: KEY } },
    ]);
    expect(results.map((r) => (r.type === "auth" ? r.authRevision : r.type))).toEqual([2, 3, 4]);
    expect(store.revision).toBe(1);
    expect(store.auth.enabled).toBe(true);
    expect(store.auth.signingKey).toEqual(KEY);
    expect(store.auth.user("root")).toMatchObject({ roles: ["root"], revision: 3 });
  });

  it("refuses enable without a root user holding the root role, and changes nothing", () => {
    const store = new KvStore();
    applyAll(store, 1, [
      { type: "auth", action: { kind: "userAdd", name: "root", passwordHash: HASH } },
    ]);
    const [r] = applyAll(store, 2, [{ type: "auth", action: { kind: "enable", signingKey: KEY } }]);
    expect(r).toMatchObject({ type: "error", error: { code: "ROOT_USER_MISSING" } });
    expect(store.auth.enabled).toBe(false);
    expect(store.auth.authRevision).toBe(2);
  });

  it("refuses duplicates, unknown names and a plain password where a hash belongs", () => {
    const store = new KvStore();
    const results = applyAll(store, 1, [
      { type: "auth", action: { kind: "roleAdd", name: "r" } },
      { type: "auth", action: { kind: "roleAdd", name: "r" } },
      { type: "auth", action: { kind: "roleAdd", name: "root" } },
      { type: "auth", action: { kind: "userGrantRole", name: "ghost", role: "r" } },
      { type: "auth", action: { kind: "roleDelete", name: "root" } },
    ]);
    expect(results.map((r) => (r.type === "error" ? r.error.code : r.type))).toEqual([
      "auth",
      "ROLE_ALREADY_EXISTS",
      "ROLE_ALREADY_EXISTS",
      "USER_NOT_FOUND",
      "INVALID_ARGUMENT",
    ]);
    expect(() =>
      encodeCommand({
        type: "auth",
        action: { kind: "userAdd", name: "u", passwordHash: "plain-text" },
      }),
    ).toThrow(/bcrypt hash/);
  });

  it("round-trips users, roles, permissions, the key and the flag through a snapshot", async () => {
    const store = new KvStore();
    applyAll(store, 1, [
      { type: "auth", action: { kind: "userAdd", name: "root", passwordHash: HASH } },
      { type: "auth", action: { kind: "userGrantRole", name: "root", role: "root" } },
      { type: "auth", action: { kind: "userAdd", name: "cert-only" } },
      { type: "auth", action: { kind: "roleAdd", name: "r" } },
      {
        type: "auth",
        action: {
          kind: "roleGrantPermission",
          name: "r",
          permission: { permType: "readwrite", key: utf8("a/"), rangeEnd: utf8("a0") },
        },
      },
      { type: "auth", action: { kind: "userGrantRole", name: "cert-only", role: "r" } },
      { type: "auth", action: { kind: "enable", signingKey: KEY } },
      { type: "put", key: utf8("a/x"), value: utf8("1") },
    ]);
    const copy = new KvStore();
    await copy.restore(chunks(...(await bytesOf(store.snapshot()))));
    for (const view of [store.auth, copy.auth]) {
      expect(view.enabled).toBe(true);
      expect(view.signingKey).toEqual(KEY);
    }
    expect(copy.auth.authRevision).toBe(store.auth.authRevision);
    expect(copy.auth.userNames()).toEqual(["cert-only", "root"]);
    expect(copy.auth.user("cert-only")).toEqual(store.auth.user("cert-only"));
    expect(copy.auth.user("cert-only")?.passwordHash).toBeUndefined();
    expect(copy.auth.role("r")).toEqual(store.auth.role("r"));
    expect(copy.range({ key: utf8("a/x") }).kvs).toHaveLength(1);
  });

  it("loads a snapshot written before auth existed as auth off with no users", async () => {
    const packr = new Packr({ useRecords: false, moreTypes: false });
    const frame = (v: unknown) => {
      const body = packr.pack(v);
      const out = new Uint8Array(4 + body.byteLength);
      new DataView(out.buffer).setUint32(0, body.byteLength);
      out.set(body, 4);
      return out;
    };
    const old = [
      frame({ v: 1, revision: 5, compactRevision: 0, appliedIndex: 9, nextLeaseId: 1, leases: [] }),
      frame({ end: 0 }),
    ];
    const store = new KvStore();
    applyAll(store, 1, [
      { type: "auth", action: { kind: "userAdd", name: "u", passwordHash: HASH } },
    ]);
    await store.restore(chunks(...old));
    expect(store.revision).toBe(5);
    expect(store.auth.enabled).toBe(false);
    expect(store.auth.userNames()).toEqual([]);
    expect(store.auth.authRevision).toBe(1);
  });

  it("decodes what it encodes and rejects unknown auth fields from the log", () => {
    const cmd = { type: "auth", action: { kind: "roleAdd", name: "x" } } as const;
    expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
    const store = new KvStore();
    const bad = new Packr({ useRecords: false }).pack({
      type: "auth",
      action: { kind: "roleAdd", name: "x", extra: 1 },
    });
    const r = store.apply({ index: 1, term: 1, data: bad });
    expect(r).toMatchObject({ type: "error", error: { code: "KV_INVALID_COMMAND" } });
  });
});
