import { describe, expect, it } from "vitest";
import type { KvEvent } from "../../src/kv/index.js";
import {
  eventMessage,
  fragmentRuns,
  parseCreate,
  runBytes,
} from "../../src/server/grpc/watch-messages.js";
import { resolveLimits } from "../../src/server/options.js";

const limits = resolveLimits({} as Parameters<typeof resolveLimits>[0]);
const b64 = (s: string) => Buffer.from(s).toString("base64");
const bytes = (s: string) => new Uint8Array(Buffer.from(s));

function put(key: string, valueBytes: number, revision: number): KvEvent {
  return {
    type: "put",
    kv: {
      key: bytes(key),
      createRevision: revision,
      modRevision: revision,
      version: 1,
      value: new Uint8Array(valueBytes),
      lease: 0,
    },
  };
}

describe("gRPC watch messages", () => {
  it("reads a create request as etcd does", () => {
    // An empty key is etcd's smallest key, "\0"; with range_end "\0", every key.
    const all = parseCreate({ range_end: b64("\0") }, limits);
    expect(all.options.key).toEqual(bytes("\0"));
    expect(all.options.rangeEnd).toEqual(bytes("\0"));
    expect(all.watchId).toBe(0);
    const full = parseCreate(
      {
        key: b64("a"),
        start_revision: "7",
        filters: ["NOPUT"],
        prev_kv: true,
        watch_id: "12",
        progress_notify: true,
        fragment: true,
      },
      limits,
    );
    expect(full).toMatchObject({ watchId: 12, progressNotify: true, fragment: true });
    expect(full.options).toMatchObject({ startRevision: 7, noPut: true, noDelete: false });
    expect(full.options.rangeEnd).toBeUndefined();
    expect(() => parseCreate({ key: b64("a"), start_revision: "-1" }, limits)).toThrow(
      /start_revision/,
    );
    expect(() => parseCreate({ key: b64("a"), watch_id: "-3" }, limits)).toThrow(/watch_id/);
    expect(() => parseCreate({ key: b64("a"), filters: ["7"] }, limits)).toThrow(/filter/);
  });

  it("leaves zero fields out of an event, as etcd's delete events have them", () => {
    const del: KvEvent = {
      type: "delete",
      kv: {
        key: bytes("k"),
        createRevision: 0,
        modRevision: 9,
        version: 0,
        value: bytes(""),
        lease: 0,
      },
    };
    expect(eventMessage(del)).toEqual({ type: "DELETE", kv: { key: bytes("k"), mod_revision: 9 } });
  });

  it("splits events into runs that fit, in order, an oversized event alone", () => {
    const events = [put("a", 400, 5), put("b", 400, 5), put("c", 400, 5), put("d", 3000, 5)];
    const limit = runBytes(events.slice(0, 2));
    const runs = fragmentRuns(events, limit);
    expect(runs.map((run) => run.map((e) => Buffer.from(e.kv.key).toString()))).toEqual([
      ["a", "b"],
      ["c"],
      ["d"],
    ]);
    expect(runs.slice(0, 2).every((run) => runBytes(run) <= limit)).toBe(true);
    expect(runBytes(runs[2]!)).toBeGreaterThan(limit);
  });
});
