import { describe, expect, it } from "vitest";
import {
  encodeCommand,
  InvalidKvCommandError,
  type KvCommand,
  type KvResult,
  KvStore,
  NoSpaceError,
  RECORD_OVERHEAD_BYTES,
  utf8,
  writeCostBytes,
} from "../../src/kv/index.js";
import { encodeSnapshot } from "../../src/kv/snapshot.js";
import { roundTrip } from "./ops.js";

const b = utf8;

function harness() {
  const store = new KvStore();
  let index = 0;
  const apply = (command: KvCommand): KvResult => store.apply(++index, command);
  const ok = (command: KvCommand) => {
    const r = apply(command);
    if (r.type === "error") throw r.error;
    return r;
  };
  const refused = (command: KvCommand) => {
    const r = apply(command);
    if (r.type !== "error") throw new Error(`expected a refusal, got ${r.type}`);
    return r.error;
  };
  return { store, apply, ok, refused };
}

const raise = { type: "alarm", action: "activate", memberId: 2, alarm: "NOSPACE" } as const;
const clear = { type: "alarm", action: "deactivate", memberId: 2, alarm: "NOSPACE" } as const;

describe("store size", () => {
  it("counts each retained record's key, value and overhead, and gives it back on compaction", () => {
    const h = harness();
    const record = (k: string, v: string) => k.length + v.length + RECORD_OVERHEAD_BYTES;
    expect(h.store.sizeBytes).toBe(0);
    h.ok({ type: "put", key: b("alpha"), value: b("1234567890") }); // rev 2
    h.ok({ type: "put", key: b("alpha"), value: b("12") }); // rev 3
    h.ok({ type: "put", key: b("beta"), value: b("x") }); // rev 4
    h.ok({ type: "deleteRange", key: b("beta") }); // rev 5: a tombstone
    expect(h.store.sizeBytes).toBe(
      record("alpha", "1234567890") +
        record("alpha", "12") +
        record("beta", "x") +
        record("beta", ""),
    );
    // Compacting at 5 drops alpha's superseded record and all of beta (deleted at or before 5).
    h.ok({ type: "compact", revision: 5 });
    expect(h.store.sizeBytes).toBe(record("alpha", "12"));
  });

  it("is the same after a snapshot round trip", async () => {
    const h = harness();
    for (let i = 0; i < 20; i++)
      h.ok({ type: "put", key: b(`k${i % 7}`), value: b("v".repeat(i)) });
    h.ok({ type: "compact", revision: 10 });
    expect((await roundTrip(h.store)).sizeBytes).toBe(h.store.sizeBytes);
  });
});

describe("alarms", () => {
  it("activates once, lists, and deactivates, leaving the revision alone", () => {
    const h = harness();
    const revision = h.store.revision;
    expect(h.ok(raise)).toEqual({
      type: "alarm",
      revision,
      alarms: [{ memberId: 2, alarm: "NOSPACE" }],
    });
    // Raising it again changes nothing and reports nothing new, as etcd.
    expect(h.ok(raise)).toMatchObject({ alarms: [] });
    h.ok({ type: "alarm", action: "activate", memberId: 1, alarm: "CORRUPT" });
    expect(h.ok({ type: "alarm", action: "get" })).toMatchObject({
      alarms: [
        { memberId: 1, alarm: "CORRUPT" },
        { memberId: 2, alarm: "NOSPACE" },
      ],
    });
    expect(h.ok({ type: "alarm", action: "get", alarm: "NOSPACE" })).toMatchObject({
      alarms: [{ memberId: 2, alarm: "NOSPACE" }],
    });
    expect(h.ok(clear)).toMatchObject({ alarms: [{ memberId: 2, alarm: "NOSPACE" }] });
    expect(h.ok(clear)).toMatchObject({ alarms: [] });
    expect(h.store.alarms.list()).toEqual([{ memberId: 1, alarm: "CORRUPT" }]);
    expect(h.store.revision).toBe(revision);
  });

  it("rejects malformed alarm commands at the boundary", () => {
    for (const bad of [
      { type: "alarm", action: "activate", alarm: "NOSPACE" },
      { type: "alarm", action: "deactivate", memberId: 1 },
      { type: "alarm", action: "raise", memberId: 1, alarm: "NOSPACE" },
      { type: "alarm", action: "activate", memberId: 1, alarm: "FULL" },
      { type: "alarm", action: "activate", memberId: 0, alarm: "NOSPACE" },
    ]) {
      expect(() => encodeCommand(bad as unknown as KvCommand)).toThrow(InvalidKvCommandError);
    }
  });

  it("while NOSPACE is raised, refuses what takes space and serves the rest", () => {
    const h = harness();
    const lease = h.ok({ type: "leaseGrant", ttlMs: 10_000 });
    const leaseId = lease.type === "leaseGrant" ? lease.id : 0;
    h.ok({ type: "put", key: b("a"), value: b("1"), lease: leaseId });
    h.ok({ type: "put", key: b("b"), value: b("2") });
    h.ok(raise);
    const revision = h.store.revision;

    const put = { type: "put", key: b("c"), value: b("3") } as const;
    expect(h.refused(put)).toBeInstanceOf(NoSpaceError);
    expect(h.refused(put)).toMatchObject({ code: "KV_NOSPACE" });
    expect(h.refused({ type: "leaseGrant", ttlMs: 1000 })).toBeInstanceOf(NoSpaceError);
    // A txn with a put in either branch is refused whichever branch would run.
    const guardedPut: KvCommand = {
      type: "txn",
      compare: [],
      success: [{ type: "range", key: b("a") }],
      failure: [put],
    };
    expect(h.refused(guardedPut)).toBeInstanceOf(NoSpaceError);
    expect(h.refused({ type: "request", id: "r1", command: put })).toBeInstanceOf(NoSpaceError);
    expect(h.store.revision).toBe(revision);

    // Reads, deletes (alone or in a txn), keep-alives, revokes and compaction all work.
    expect(h.ok({ type: "range", key: b("b") })).toMatchObject({ count: 1 });
    h.ok({
      type: "txn",
      compare: [],
      success: [{ type: "deleteRange", key: b("b") }],
      failure: [],
    });
    h.ok({ type: "leaseKeepAlive", id: leaseId });
    expect(h.ok({ type: "leaseRevoke", id: leaseId })).toMatchObject({ deletedKeys: 1 });
    h.ok({ type: "compact", revision: h.store.revision });
    expect(h.store.sizeBytes).toBe(0);

    // Disarmed, the same writes go through; the refused request id was not remembered.
    h.ok(clear);
    h.ok({ type: "request", id: "r1", command: put });
    h.ok({ type: "leaseGrant", ttlMs: 1000 });
  });

  it("survives a snapshot, and snapshots from before alarms restore with none raised", async () => {
    const h = harness();
    h.ok(raise);
    const copy = await roundTrip(h.store);
    expect(copy.alarms.list()).toEqual([{ memberId: 2, alarm: "NOSPACE" }]);
    const r = copy.apply(1, { type: "put", key: b("k"), value: b("v") });
    expect(r.type === "error" && r.error).toBeInstanceOf(NoSpaceError);

    // A header without the alarms field, as older versions wrote it.
    const old = new KvStore();
    old.apply(1, raise);
    await old.restore(
      encodeSnapshot({
        header: {
          v: 1,
          revision: 3,
          compactRevision: 0,
          appliedIndex: 7,
          nextLeaseId: 1,
          leases: [],
        },
        histories: [],
        requests: [],
      }),
    );
    expect(old.alarms.list()).toEqual([]);
    expect(old.apply(8, { type: "put", key: b("k"), value: b("v") }).type).toBe("put");
  });
});

describe("write cost", () => {
  it("counts puts, the costlier txn branch and lease grants; nothing else", () => {
    const put = (k: string, v: string) => ({ type: "put", key: b(k), value: b(v) }) as const;
    expect(writeCostBytes(put("key", "value"))).toBe(8 + RECORD_OVERHEAD_BYTES);
    const txn: KvCommand = {
      type: "txn",
      compare: [],
      success: [
        put("a", "1"),
        { type: "txn", compare: [], success: [put("b", "22")], failure: [] },
      ],
      failure: [put("c", "x".repeat(100))],
    };
    expect(writeCostBytes(txn)).toBe(101 + RECORD_OVERHEAD_BYTES);
    expect(writeCostBytes({ type: "leaseGrant", ttlMs: 1 })).toBeGreaterThan(0);
    expect(writeCostBytes({ type: "request", id: "x", command: put("k", "") })).toBeGreaterThan(0);
    for (const free of [
      { type: "deleteRange", key: b("a") },
      { type: "compact", revision: 1 },
      { type: "leaseRevoke", id: 1 },
      { type: "leaseKeepAlive", id: 1 },
      raise,
    ] as KvCommand[]) {
      expect(writeCostBytes(free)).toBe(0);
    }
  });
});
