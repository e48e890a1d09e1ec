import { describe, expect, it } from "vitest";
import { checkLinearizability, type Operation } from "../../../src/sim/lincheck/index.js";
import {
  type KeyspaceInput,
  type KeyspaceOutput,
  keyspaceModel,
  type ObservedKey,
} from "../../../src/sim/lincheck/keyspace-model.js";

type Op = Operation<KeyspaceInput, KeyspaceOutput>;

/** What a range read returned: value, version, create revision, mod revision. */
const kv = (value: string, version: number, create: number, mod: number): ObservedKey => ({
  value,
  version,
  createRevision: create,
  modRevision: mod,
});

const get = (c: number, call: number, ret: number, seen: ObservedKey | null, key = "x"): Op => ({
  clientId: c,
  call,
  ret,
  input: { op: "get", key },
  output: { kv: seen },
});

const put = (
  c: number,
  call: number,
  ret: number,
  value: string,
  revision: number,
  leased = false,
  key = "x",
): Op => ({
  clientId: c,
  call,
  ret,
  input: { op: "put", key, value, leased },
  output: { revision },
});

const del = (c: number, call: number, ret: number, deleted: number, revision: number): Op => ({
  clientId: c,
  call,
  ret,
  input: { op: "delete", key: "x" },
  output: { deleted, revision },
});

const revoke = (c: number, call: number, ret: number, deleted: number, revision: number): Op => ({
  clientId: c,
  call,
  ret,
  input: { op: "revoke", key: "x" },
  output: { deleted, revision },
});

const cas = (
  c: number,
  call: number,
  ret: number,
  expectedMod: number,
  value: string,
  succeeded: boolean,
  revision: number,
): Op => ({
  clientId: c,
  call,
  ret,
  input: { op: "cas", key: "x", expectedMod, value },
  output: { succeeded, revision },
});

/** An operation whose client gave up: it may take effect at any time after its call, or never. */
const lost = (c: number, call: number, input: KeyspaceInput): Op => ({ clientId: c, call, input });
const lostPut = (c: number, call: number, value: string): Op =>
  lost(c, call, { op: "put", key: "x", value, leased: false });

const verdict = (history: readonly Op[]) => checkLinearizability(keyspaceModel, history).result;

describe("keyspace model: sequential histories", () => {
  it("accepts a history that follows etcd's revision and version rules", () => {
    const history = [
      put(1, 0, 1, "a", 1),
      get(1, 2, 3, kv("a", 1, 1, 1)),
      // Revision 2 went to another key: the counter is global.
      put(1, 4, 5, "b", 3),
      get(1, 6, 7, kv("b", 2, 1, 3)),
      del(1, 8, 9, 1, 4),
      get(1, 10, 11, null),
      put(1, 12, 13, "c", 6),
      get(1, 14, 15, kv("c", 1, 6, 6)),
    ];
    expect(verdict(history)).toBe("ok");
  });

  it("rejects a read showing the wrong version, mod revision or create revision", () => {
    const before = [put(1, 0, 1, "a", 1), put(1, 2, 3, "b", 2)];
    expect(verdict([...before, get(1, 4, 5, kv("b", 2, 1, 2))])).toBe("ok");
    expect(verdict([...before, get(1, 4, 5, kv("b", 1, 1, 2))])).toBe("illegal");
    expect(verdict([...before, get(1, 4, 5, kv("b", 2, 1, 3))])).toBe("illegal");
    expect(verdict([...before, get(1, 4, 5, kv("b", 2, 2, 2))])).toBe("illegal");
  });

  it("rejects a write whose revision does not move past the key's last revision", () => {
    expect(verdict([put(1, 0, 1, "a", 5), put(1, 2, 3, "b", 5)])).toBe("illegal");
    expect(verdict([put(1, 0, 1, "a", 5), put(1, 2, 3, "b", 4)])).toBe("illegal");
    expect(verdict([put(1, 0, 1, "a", 5), del(1, 2, 3, 1, 7), put(1, 4, 5, "b", 6)])).toBe(
      "illegal",
    );
    expect(verdict([put(1, 0, 1, "a", 5), del(1, 2, 3, 1, 7), put(1, 4, 5, "b", 8)])).toBe("ok");
  });

  it("rejects a put applied twice: two version bumps after one acknowledged put", () => {
    const once = [put(1, 0, 1, "a", 1), get(1, 2, 3, kv("a", 1, 1, 1)), put(1, 4, 5, "b", 2)];
    expect(verdict([...once, get(1, 6, 7, kv("b", 2, 1, 2))])).toBe("ok");
    expect(verdict([...once, get(1, 6, 7, kv("b", 3, 1, 2))])).toBe("illegal");
    expect(verdict([...once, get(1, 6, 7, kv("b", 3, 1, 3))])).toBe("illegal");
  });

  it("rejects a stale read after a later write returned", () => {
    const history = [put(1, 0, 1, "a", 1), put(1, 2, 3, "b", 2), get(2, 4, 5, kv("a", 1, 1, 1))];
    expect(verdict(history)).toBe("illegal");
  });

  it("rejects a deleted key read back as present", () => {
    const history = [put(1, 0, 1, "a", 1), del(1, 2, 3, 1, 2), get(2, 4, 5, kv("a", 1, 1, 1))];
    expect(verdict(history)).toBe("illegal");
  });

  it("rejects a delete that reports nothing deleted while an unleased key is there", () => {
    expect(verdict([put(1, 0, 1, "a", 1), del(1, 2, 3, 0, 1)])).toBe("illegal");
    expect(verdict([del(1, 0, 1, 0, 0)])).toBe("ok");
  });
});

describe("keyspace model: leases", () => {
  it("lets a leased key vanish (its lease expired) but not an unleased one", () => {
    expect(verdict([put(1, 0, 1, "a", 1, true), get(2, 2, 3, null)])).toBe("ok");
    expect(verdict([put(1, 0, 1, "a", 1, true), del(2, 2, 3, 0, 1)])).toBe("ok");
    expect(verdict([put(1, 0, 1, "a", 1, false), get(2, 2, 3, null)])).toBe("illegal");
  });

  it("does not bring an expired key back", () => {
    const history = [
      put(1, 0, 1, "a", 1, true),
      get(2, 2, 3, null),
      get(2, 4, 5, kv("a", 1, 1, 1)),
    ];
    expect(verdict(history)).toBe("illegal");
  });

  it("drops the lease when the key is overwritten without one", () => {
    const history = [put(1, 0, 1, "a", 1, true), put(1, 2, 3, "b", 2, false), get(2, 4, 5, null)];
    expect(verdict(history)).toBe("illegal");
  });

  it("accepts a revoke that deletes a leased key, or finds it already expired", () => {
    const leased = put(1, 0, 1, "a", 1, true);
    expect(verdict([leased, revoke(1, 2, 3, 1, 2), get(2, 4, 5, null)])).toBe("ok");
    expect(verdict([leased, revoke(1, 2, 3, 0, 0), get(2, 4, 5, null)])).toBe("ok");
    expect(verdict([leased, revoke(1, 2, 3, 1, 2), get(2, 4, 5, kv("a", 1, 1, 1))])).toBe(
      "illegal",
    );
  });

  it("rejects a revoke that deletes an unleased key", () => {
    expect(verdict([put(1, 0, 1, "a", 1, false), revoke(1, 2, 3, 1, 2)])).toBe("illegal");
    expect(verdict([revoke(1, 0, 1, 1, 2)])).toBe("illegal");
  });
});

describe("keyspace model: compare-and-swap on the mod revision", () => {
  const a = put(1, 0, 1, "a", 1);

  it("swaps exactly when the mod revision matches", () => {
    expect(verdict([a, cas(1, 2, 3, 1, "b", true, 2), get(1, 4, 5, kv("b", 2, 1, 2))])).toBe("ok");
    expect(verdict([a, cas(1, 2, 3, 1, "b", false, 1)])).toBe("illegal");
    expect(verdict([a, cas(1, 2, 3, 7, "b", false, 1), get(1, 4, 5, kv("a", 1, 1, 1))])).toBe("ok");
    expect(verdict([a, cas(1, 2, 3, 7, "b", true, 2)])).toBe("illegal");
  });

  it("treats expected mod revision 0 as 'the key is absent'", () => {
    expect(verdict([cas(1, 0, 1, 0, "n", true, 3), get(1, 2, 3, kv("n", 1, 3, 3))])).toBe("ok");
    expect(verdict([cas(1, 0, 1, 0, "n", false, 0)])).toBe("illegal");
    expect(verdict([a, cas(1, 2, 3, 0, "n", true, 2)])).toBe("illegal");
    expect(verdict([a, cas(1, 2, 3, 0, "n", false, 1)])).toBe("ok");
  });

  it("lets a cas fail on a leased key that may have expired", () => {
    const leased = put(1, 0, 1, "a", 1, true);
    expect(verdict([leased, cas(1, 2, 3, 1, "b", false, 1)])).toBe("ok");
  });

  it("after a put of unknown outcome, matches a mod revision above the last one known", () => {
    // The lost put may have landed at revision 5: the cas may then succeed.
    const then = [a, lostPut(2, 2, "b"), cas(1, 3, 4, 5, "c", true, 6)];
    expect(verdict([...then, get(1, 5, 6, kv("c", 3, 1, 6))])).toBe("ok");
    // Succeeding proves the lost put landed, so the version counts it.
    expect(verdict([...then, get(1, 5, 6, kv("c", 2, 1, 6))])).toBe("illegal");
    // Or it landed elsewhere, or never: the cas may fail too.
    expect(verdict([a, lostPut(2, 2, "b"), cas(1, 3, 4, 5, "c", false, 3)])).toBe("ok");
  });

  it("after a put of unknown outcome, never matches a mod revision at or below the last known", () => {
    // The key's mod revision is 3, or the lost put's revision, above 3: never 2.
    expect(verdict([put(1, 0, 1, "a", 3), lostPut(2, 2, "b"), cas(1, 3, 4, 2, "c", true, 6)])).toBe(
      "illegal",
    );
  });
});

describe("keyspace model: unknown outcomes and concurrency", () => {
  const a = put(1, 0, 1, "a", 1);

  it("lets a write of unknown outcome take effect or not", () => {
    expect(verdict([a, lostPut(2, 2, "b"), get(1, 5, 6, kv("a", 1, 1, 1))])).toBe("ok");
    expect(verdict([a, lostPut(2, 2, "b"), get(1, 5, 6, kv("b", 2, 1, 4))])).toBe("ok");
    const lostDelete = lost(2, 2, { op: "delete", key: "x" });
    expect(verdict([a, lostDelete, get(1, 5, 6, null)])).toBe("ok");
    expect(verdict([a, lostDelete, get(1, 5, 6, kv("a", 1, 1, 1))])).toBe("ok");
  });

  it("gives a key created by a write of unknown outcome revisions above what came before", () => {
    expect(verdict([lostPut(1, 0, "a"), get(2, 1, 2, kv("a", 1, 4, 4))])).toBe("ok");
    // Version 1: the lost put created the key, so it was created at its mod revision.
    expect(verdict([lostPut(1, 0, "a"), get(2, 1, 2, kv("a", 1, 2, 4))])).toBe("illegal");
    const overwritten = [lostPut(1, 0, "a"), put(1, 1, 2, "b", 6)];
    expect(verdict([...overwritten, get(2, 3, 4, kv("b", 2, 4, 6))])).toBe("ok");
    expect(verdict([...overwritten, get(2, 3, 4, kv("b", 2, 6, 6))])).toBe("illegal");
    expect(
      verdict([a, del(1, 2, 3, 1, 5), lostPut(1, 4, "b"), get(2, 5, 6, kv("b", 1, 5, 5))]),
    ).toBe("illegal");
  });

  it("does not let a write of unknown outcome take effect before its call or twice", () => {
    expect(verdict([a, get(1, 2, 3, kv("b", 2, 1, 4)), lostPut(2, 4, "b")])).toBe("illegal");
    const seenThenGone = [
      a,
      lostPut(2, 2, "b"),
      get(1, 3, 4, kv("b", 2, 1, 4)),
      get(1, 5, 6, kv("a", 1, 1, 1)),
    ];
    expect(verdict(seenThenGone)).toBe("illegal");
  });

  it("orders concurrent operations either way, as their revisions allow", () => {
    // A read overlapping a put may see the key before or after it.
    const overlap = [a, put(1, 2, 10, "b", 2)];
    expect(verdict([...overlap, get(2, 3, 4, kv("a", 1, 1, 1))])).toBe("ok");
    expect(verdict([...overlap, get(2, 3, 4, kv("b", 2, 1, 2))])).toBe("ok");
    // Two overlapping puts: whichever got the higher revision is the one left.
    const racing = [a, put(1, 2, 10, "b", 3), put(2, 2, 10, "c", 2)];
    expect(verdict([...racing, get(3, 11, 12, kv("b", 3, 1, 3))])).toBe("ok");
    expect(verdict([...racing, get(3, 11, 12, kv("c", 3, 1, 2))])).toBe("illegal");
  });

  it("checks each key on its own", () => {
    const history = [
      put(1, 0, 1, "a", 1, false, "x"),
      put(1, 2, 3, "a", 2, false, "y"),
      get(2, 4, 5, kv("a", 1, 1, 1), "x"),
      get(2, 4, 5, kv("a", 1, 2, 2), "y"),
    ];
    expect(checkLinearizability(keyspaceModel, history)).toMatchObject({
      result: "ok",
      partitions: 2,
    });
  });
});
