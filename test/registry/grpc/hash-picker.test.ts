import { type experimental, Metadata } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { createPlacement } from "../../../src/hashring/index.js";
import { HashPicker, hashKeyOf } from "../../../src/registry/grpc/hash-picker.js";

/** A child picker whose pick names the child, standing in for a READY leaf. */
function child(name: string): experimental.Picker {
  return {
    pick: () =>
      ({
        pickResultType: 0,
        subchannel: { name },
        status: null,
        onCallStarted: null,
        onCallEnded: null,
      }) as unknown as experimental.PickResult,
  };
}

function picked(picker: HashPicker, value?: string | Buffer): string {
  const metadata = new Metadata();
  if (typeof value === "string") metadata.set("x-user", value);
  else if (value !== undefined) metadata.set("x-user-bin", value);
  const result = picker.pick({ metadata, extraPickInfo: {} });
  return (result.subchannel as unknown as { name: string }).name;
}

const NODES = ["n1", "n2", "n3"];
const KEYS = Array.from({ length: 60 }, (_, i) => `key-${i}`);

describe("HashPicker", () => {
  it("picks the key's owner, and the next owner in getN order when the owner is not READY", () => {
    const ring = createPlacement({ algorithm: "ring", nodes: NODES });
    const all = new HashPicker(ring, new Map(NODES.map((n) => [n, child(n)])), "x-user", {
      next: 0,
    });
    const withoutN2 = new HashPicker(
      ring,
      new Map(["n1", "n3"].map((n) => [n, child(n)])),
      "x-user",
      { next: 0 },
    );
    for (const key of KEYS) {
      expect(picked(all, key)).toBe(ring.get(key));
      expect(picked(withoutN2, key)).toBe(ring.getN(key, 3).find((n) => n !== "n2"));
    }
  });

  it("goes round robin without the key, continuing across pickers that share the cursor", () => {
    const ring = createPlacement({ algorithm: "maglev", nodes: NODES });
    const cursor = { next: 0 };
    const ready = new Map(NODES.map((n) => [n, child(n)]));
    const first = new HashPicker(ring, ready, "x-user", cursor);
    const second = new HashPicker(ring, ready, "x-user", cursor);
    expect([picked(first), picked(first), picked(second), picked(second)]).toEqual([
      "n1",
      "n2",
      "n3",
      "n1",
    ]);
    // An empty value is no key.
    expect(picked(second, "")).toBe("n2");
  });

  it("hashes binary metadata values as bytes", () => {
    const ring = createPlacement({ algorithm: "maglev", nodes: NODES });
    const picker = new HashPicker(ring, new Map(NODES.map((n) => [n, child(n)])), "x-user-bin", {
      next: 0,
    });
    for (const key of KEYS) {
      expect(picked(picker, Buffer.from(key))).toBe(ring.get(new TextEncoder().encode(key)));
    }
    const metadata = new Metadata();
    metadata.set("x-user-bin", Buffer.from("abc"));
    expect(hashKeyOf(metadata, "x-user-bin")).toEqual(Buffer.from("abc"));
  });

  it("falls back to round robin when no READY node owns part of a maglev table", () => {
    // Weight 1 beside 10000 earns no slot in a table of about 100 slots per node.
    const maglev = createPlacement({
      algorithm: "maglev",
      nodes: [
        { id: "heavy", weight: 10_000 },
        { id: "light", weight: 1 },
      ],
    });
    const picker = new HashPicker(maglev, new Map([["light", child("light")]]), "x-user", {
      next: 0,
    });
    for (const key of KEYS.slice(0, 10)) expect(picked(picker, key)).toBe("light");
  });
});
