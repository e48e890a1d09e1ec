import { describe, expect, it } from "vitest";
import { encodeCommand, encodeMemberAttributes, KvStore, utf8 } from "../../src/kv/index.js";
import { roundTrip } from "./ops.js";

const n1 = {
  id: 1,
  name: "n1",
  peerUrls: ["127.0.0.1:2380"],
  clientUrls: ["http://127.0.0.1:2379"],
};

describe("member attributes in the key-space state machine", () => {
  it("applies attributes without changing the revision, and replaces them", () => {
    const store = new KvStore();
    store.apply({
      index: 1,
      term: 1,
      data: encodeCommand({ type: "put", key: utf8("k"), value: utf8("v") }),
    });
    const r = store.apply({ index: 2, term: 1, data: encodeMemberAttributes(n1) });
    expect(r).toEqual({ type: "memberAttributes", revision: 2 });
    expect(store.revision).toBe(2);
    expect(store.appliedIndex).toBe(2);
    expect(store.members.get(1)).toEqual({ ...n1, grpcUrls: [] });
    store.apply({ index: 3, term: 1, data: encodeMemberAttributes({ ...n1, clientUrls: [] }) });
    expect(store.members.clientUrl(1)).toBeUndefined();
  });

  it("keeps members in the snapshot", async () => {
    const store = new KvStore();
    store.apply({ index: 1, term: 1, data: encodeMemberAttributes(n1) });
    store.apply({ index: 2, term: 1, data: encodeMemberAttributes({ ...n1, id: 7, name: "n7" }) });
    const copy = await roundTrip(store);
    expect(copy.members.all().map((m) => m.name)).toEqual(["n1", "n7"]);
    expect(copy.members.clientUrl(7)).toBe("http://127.0.0.1:2379");
  });

  it("refuses malformed attributes when encoding and answers malformed entries with an error", () => {
    for (const bad of [
      { ...n1, id: 0 },
      { ...n1, id: 1.5 },
      { ...n1, name: 5 },
      { ...n1, name: "x".repeat(300) },
      { ...n1, clientUrls: "http://x" },
      { ...n1, clientUrls: [""] },
      { ...n1, peerUrls: Array.from({ length: 17 }, () => "h:1") },
    ]) {
      expect(() => encodeMemberAttributes(bad as never), JSON.stringify(bad)).toThrow(
        /member attributes/,
      );
    }
    const store = new KvStore();
    const garbage = Uint8Array.from([0xc1, 0xff, 0x00]);
    const r = store.apply({ index: 1, term: 1, data: garbage });
    expect(r.type).toBe("error");
    expect(store.members.all()).toEqual([]);
  });
});
