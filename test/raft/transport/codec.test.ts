import fc from "fast-check";
import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../../src/errors.js";
import { MAX_INDEX, MAX_TERM } from "../../../src/raft/core/limits.js";
import type { Message } from "../../../src/raft/core/types.js";
import { EntryType, MessageType, message } from "../../../src/raft/core/types.js";
import {
  FrameDecodeError,
  FrameTooLargeError,
  InvalidMessageError,
} from "../../../src/raft/transport/errors.js";
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameKind,
} from "../../../src/raft/transport/frame.js";
import {
  decodeMessage,
  encodeMessage,
  encodeMessageFrame,
  OWN_PART_ENTRY_BYTES,
  packValue,
} from "../../../src/raft/transport/message-codec.js";
import { validateMessage } from "../../../src/raft/transport/message-validate.js";
import { parsePeerAddress } from "../../../src/raft/transport/options.js";
import { sampleMessages } from "./helpers.js";

/** Frames as { kind, body in hex }: cheap to compare thousands of times. */
function decodeAll(
  decoder: FrameDecoder,
  chunks: Uint8Array[],
): Array<{ kind: FrameKind; hex: string }> {
  const frames: Array<{ kind: FrameKind; hex: string }> = [];
  const collect = (f: Frame): void => {
    frames.push({ kind: f.kind, hex: Buffer.from(f.body).toString("hex") });
  };
  for (const c of chunks) decoder.push(c, collect);
  return frames;
}

function assertPlainBytes(m: Message): void {
  for (const e of m.entries) expect(Object.getPrototypeOf(e.data)).toBe(Uint8Array.prototype);
  if (m.snapshot) expect(Object.getPrototypeOf(m.snapshot.data)).toBe(Uint8Array.prototype);
}

describe("message codec", () => {
  it("round-trips every network message type exactly, byte arrays as plain Uint8Array", () => {
    const samples = sampleMessages(1, 2);
    const types = new Set(samples.map((m) => m.type));
    // Every type that is not local-only is covered.
    for (const t of Object.values(MessageType)) {
      const local = ["hup", "beat", "unreachable", "snapStatus", "checkQuorum"].includes(t);
      expect(types.has(t)).toBe(!local);
    }
    for (const m of samples) {
      const back = decodeMessage(encodeMessage(m));
      expect(back).toStrictEqual(m);
      assertPlainBytes(back);
    }
  });

  it("leaves what it encoded as it was while it encodes more, as messages and as frames", () => {
    const samples = sampleMessages(1, 2);
    const messages = samples.map((m) => encodeMessage(m));
    const frames = samples.map((m) => encodeMessageFrame(FrameKind.Message, m));
    // Everything encoded again, in between, through the same packer.
    for (const m of samples) {
      encodeMessage(m);
      encodeMessageFrame(FrameKind.Message, m);
    }
    for (const [i, m] of samples.entries()) {
      expect(decodeMessage(messages[i]!)).toStrictEqual(m);
      const decoded: Frame[] = [];
      new FrameDecoder(1 << 20).push(Buffer.concat([...frames[i]!]), (f) => decoded.push(f));
      expect(decoded.map((f) => decodeMessage(f.body))).toStrictEqual([m]);
    }
  });

  it("keeps 'snapshot' absent when it was absent", () => {
    const back = decodeMessage(
      encodeMessage(message({ type: MessageType.Heartbeat, to: 2, from: 1 })),
    );
    expect("snapshot" in back).toBe(false);
  });

  it("decoded byte arrays do not share memory with the frame", () => {
    const m = sampleMessages(1, 2)[1] as Message;
    const body = encodeMessage(m);
    const back = decodeMessage(body);
    body.fill(0);
    expect(back).toStrictEqual(m);
    expect(back.entries[0]?.data.buffer).not.toBe(body.buffer);
  });

  it("keeps big entries as views of a body it owns, copies small ones, and copies all of a body it does not own", () => {
    const big = new Uint8Array(OWN_PART_ENTRY_BYTES).fill(5);
    const small = new Uint8Array(OWN_PART_ENTRY_BYTES - 1).fill(6);
    const m = message({
      type: MessageType.App,
      to: 2,
      from: 1,
      term: 3,
      entries: [
        { term: 3, index: 7, type: EntryType.Normal, data: big },
        { term: 3, index: 8, type: EntryType.Normal, data: small },
      ],
    });
    const owned = decodeMessage(encodeMessage(m), true);
    const body = encodeMessage(m);
    const viewed = decodeMessage(body, true);
    expect(viewed).toStrictEqual(m);
    expect(viewed.entries[0]!.data.buffer).toBe(body.buffer);
    expect(viewed.entries[1]!.data.buffer).not.toBe(body.buffer);
    assertPlainBytes(viewed);
    assertPlainBytes(owned);
    const copied = decodeMessage(body);
    body.fill(0);
    expect(copied).toStrictEqual(m);
    expect(viewed.entries[1]!.data).toStrictEqual(small);
  });

  it("can omit snapshot bytes for a streamed snapshot", () => {
    const snap = sampleMessages(1, 2).find((m) => m.type === MessageType.Snap) as Message;
    const back = decodeMessage(encodeMessage(snap, true));
    expect(back.snapshot?.data).toStrictEqual(new Uint8Array(0));
    expect(back.snapshot?.metadata).toStrictEqual(snap.snapshot?.metadata);
  });

  it("round-trips arbitrary valid messages (seeded property)", () => {
    const id = fc.integer({ min: 1, max: 2 ** 31 });
    const count = fc.integer({ min: 0, max: MAX_INDEX });
    const entry = fc.record({
      term: count,
      index: count,
      type: fc.constantFrom(EntryType.Normal, EntryType.ConfChange),
      data: fc.uint8Array({ maxLength: 64 }),
    });
    const nonSnapTypes = sampleMessages(1, 2)
      .map((m) => m.type)
      .filter((t) => t !== MessageType.Snap);
    const msg = fc.record({
      type: fc.constantFrom(...nonSnapTypes),
      to: id,
      from: id,
      term: count,
      logTerm: count,
      index: count,
      entries: fc.array(entry, { maxLength: 5 }),
      commit: count,
      reject: fc.boolean(),
      rejectHint: count,
      context: fc.string({ maxLength: 20, unit: "grapheme" }),
    });
    fc.assert(
      fc.property(msg, (generated) => {
        // fast-check builds null-prototype records; compare against plain objects.
        const m = { ...generated, entries: generated.entries.map((e) => ({ ...e })) };
        expect(decodeMessage(encodeMessage(m))).toStrictEqual(m);
      }),
      { seed: 20240601, numRuns: 500 },
    );
  });

  it("refuses local-only message types on encode", () => {
    expect(() => encodeMessage(message({ type: MessageType.Hup, to: 1, from: 1 }))).toThrow(
      InvalidMessageError,
    );
  });
});

describe("message validation", () => {
  const good = message({ type: MessageType.Heartbeat, to: 2, from: 1, term: 3 });
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["a float term", { term: 1.5 }, "term"],
    ["a negative index", { index: -1 }, "index"],
    ["an unsafe integer", { commit: 2 ** 53 }, "commit"],
    ["a term above 2^52 (term + 1 must stay exact)", { term: MAX_TERM + 1 }, "term"],
    ["a term of 2^53 - 2", { term: 2 ** 53 - 2 }, "term"],
    ["a logTerm of MAX_SAFE_INTEGER", { logTerm: Number.MAX_SAFE_INTEGER }, "logTerm"],
    ["an index above 2^52", { index: MAX_INDEX + 1 }, "index"],
    ["a commit above 2^52", { commit: MAX_INDEX + 1 }, "commit"],
    ["a rejectHint above 2^52", { rejectHint: 2 ** 53 - 2 }, "rejectHint"],
    [
      "an entry term above 2^52",
      { entries: [{ term: MAX_TERM + 1, index: 1, type: 0, data: new Uint8Array(0) }] },
      "entries[0].term",
    ],
    [
      "an entry index above 2^52",
      { entries: [{ term: 1, index: MAX_INDEX + 1, type: 0, data: new Uint8Array(0) }] },
      "entries[0].index",
    ],
    ["a string node id", { to: "2" }, "to"],
    ["node id 0", { from: 0 }, "from"],
    ["an unknown type", { type: "gossip" }, "type"],
    ["a local-only type", { type: MessageType.Hup }, "type"],
    ["a non-boolean reject", { reject: 1 }, "reject"],
    ["a non-string context", { context: 5 }, "context"],
    ["entries not an array", { entries: {} }, "entries"],
    [
      "entry data as number[]",
      { entries: [{ term: 1, index: 1, type: 0, data: [1] }] },
      "entries[0].data",
    ],
    [
      "an unknown entry type",
      { entries: [{ term: 1, index: 1, type: 7, data: new Uint8Array() }] },
      "entries[0].type",
    ],
    [
      "a snapshot on a heartbeat",
      { snapshot: { metadata: {}, data: new Uint8Array() } },
      "snapshot",
    ],
    ["a snap without snapshot", { type: MessageType.Snap }, "snapshot"],
  ];
  for (const [what, patch, path] of cases) {
    it(`rejects ${what}, naming ${path}`, () => {
      const err = (() => {
        try {
          validateMessage({ ...good, ...patch }, false);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(InvalidMessageError);
      expect((err as InvalidMessageError).path).toBe(path);
      expect((err as InvalidMessageError).code).toBe("INVALID_MESSAGE");
    });
  }

  it("accepts terms and indexes up to 2^52 and refuses the snapshot metadata above it", () => {
    const top = { term: MAX_TERM, logTerm: MAX_TERM, index: MAX_INDEX, commit: MAX_INDEX };
    expect(validateMessage({ ...good, ...top }, false)).toMatchObject(top);
    const snap = sampleMessages(1, 2).find((m) => m.type === MessageType.Snap) as Message;
    const withMeta = (index: number, term: number) => ({
      ...snap,
      snapshot: { ...snap.snapshot, metadata: { ...snap.snapshot?.metadata, index, term } },
    });
    expect(validateMessage(withMeta(MAX_INDEX, MAX_TERM), false).snapshot?.metadata).toMatchObject({
      index: MAX_INDEX,
      term: MAX_TERM,
    });
    expect(() => validateMessage(withMeta(2 ** 53 - 2, 1), false)).toThrow(
      /snapshot\.metadata\.index must be at most/,
    );
    expect(() => validateMessage(withMeta(1, MAX_TERM + 1), false)).toThrow(
      /snapshot\.metadata\.term must be at most/,
    );
  });

  it("rejects a bad confState member", () => {
    const snap = sampleMessages(1, 2).find((m) => m.type === MessageType.Snap) as Message;
    const bad = {
      ...snap,
      snapshot: {
        ...snap.snapshot,
        metadata: {
          ...snap.snapshot?.metadata,
          confState: { ...snap.snapshot?.metadata.confState, voters: [1, -2] },
        },
      },
    };
    expect(() => validateMessage(bad, false)).toThrow(/voters\[1\]/);
  });

  it("rejects decodable frames that are not messages", () => {
    const bodies: unknown[] = [
      5,
      "hello",
      [],
      new Array(12).fill(0),
      [9, 2, 1, 0, 0, 0, [], 0, false, 0, "", null, "extra"],
      [9, 2, 1, 0, 0, 0, [[1, 2, 3]], 0, false, 0, "", null],
      [99, 2, 1, 0, 0, 0, [], 0, false, 0, "", null],
      [9, 2, 1, 0, 0, 0, [], 0, false, 0, "", new Date()],
      { type: "heartbeat" },
    ];
    for (const b of bodies) expect(() => decodeMessage(packValue(b))).toThrow(InvalidMessageError);
  });

  it("rejects bytes that are not one MessagePack value", () => {
    const good = encodeMessage(message({ type: MessageType.Heartbeat, to: 2, from: 1 }));
    expect(() => decodeMessage(new Uint8Array(0))).toThrow(FrameDecodeError);
    expect(() => decodeMessage(good.subarray(0, good.byteLength - 1))).toThrow(FrameDecodeError);
    expect(() => decodeMessage(Buffer.concat([good, Buffer.from([0])]))).toThrow(FrameDecodeError);
    expect(() => decodeMessage(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]))).toThrow(
      FrameDecodeError,
    );
  });
});

describe("frame decoder", () => {
  const frames = [
    encodeFrame(FrameKind.Message, new Uint8Array([1, 2, 3])),
    encodeFrame(FrameKind.SnapshotChunk, new Uint8Array(3000).fill(7)),
    encodeFrame(FrameKind.Welcome, new Uint8Array(0)),
    encodeFrame(FrameKind.Message, new Uint8Array([9])),
  ];
  const stream = Buffer.concat(frames);
  const expected = [
    { kind: FrameKind.Message, hex: "010203" },
    { kind: FrameKind.SnapshotChunk, hex: "07".repeat(3000) },
    { kind: FrameKind.Welcome, hex: "" },
    { kind: FrameKind.Message, hex: "09" },
  ];

  it("reassembles frames split at every possible boundary", () => {
    for (let cut = 0; cut <= stream.byteLength; cut++) {
      const got = decodeAll(new FrameDecoder(4096), [
        stream.subarray(0, cut),
        stream.subarray(cut),
      ]);
      expect(got).toStrictEqual(expected);
    }
  });

  it("marks as its own exactly the big bodies it assembled from more than one read", () => {
    // Small assembled bodies come from Buffer's shared pool: not their own.
    const bodies = [
      new Uint8Array(20_000).fill(3),
      new Uint8Array(3000).fill(4),
      new Uint8Array(9),
    ];
    const all = Buffer.concat(bodies.map((b) => encodeFrame(FrameKind.Message, b)));
    for (let cut = 0; cut <= all.byteLength; cut += 97) {
      const got: Frame[] = [];
      const d = new FrameDecoder(1 << 20);
      for (const chunk of [all.subarray(0, cut), all.subarray(cut)]) {
        d.push(Buffer.from(chunk), (f) => got.push(f));
      }
      let at = 0;
      for (const f of got) {
        const start = at + 5;
        at = start + f.body.byteLength;
        const assembled = start <= cut && cut < at;
        expect(f.owned === true, `frame at ${start}, cut ${cut}`).toBe(
          assembled && at - start >= 20_000,
        );
      }
      expect(got.map((f) => Buffer.from(f.body))).toStrictEqual(bodies.map((b) => Buffer.from(b)));
    }
  });

  it("reassembles frames fed one byte at a time", () => {
    const chunks = Array.from(stream, (b) => new Uint8Array([b]));
    expect(decodeAll(new FrameDecoder(4096), chunks)).toStrictEqual(expected);
  });

  it("rejects an oversized length before buffering anything", () => {
    const d = new FrameDecoder(100);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(0xffffffff, 0);
    expect(() => d.push(header, () => {})).toThrow(FrameTooLargeError);
    expect(d.bufferedBytes).toBeLessThanOrEqual(4);
    // Once failed, it stays failed.
    expect(() => d.push(frames[0] as Buffer, () => {})).toThrow(FrameDecodeError);
  });

  it("accepts a frame of exactly the limit and rejects one byte more", () => {
    const atLimit = encodeFrame(FrameKind.Message, new Uint8Array(99));
    expect(decodeAll(new FrameDecoder(100), [atLimit])).toHaveLength(1);
    const over = encodeFrame(FrameKind.Message, new Uint8Array(100));
    expect(() => decodeAll(new FrameDecoder(100), [over])).toThrow(FrameTooLargeError);
  });

  it("rejects length zero and unknown kinds", () => {
    expect(() => decodeAll(new FrameDecoder(100), [Buffer.from([0, 0, 0, 0, 16])])).toThrow(
      FrameDecodeError,
    );
    expect(() => decodeAll(new FrameDecoder(100), [Buffer.from([0, 0, 0, 1, 99])])).toThrow(
      /unknown frame kind 99/,
    );
  });
});

describe("peer addresses", () => {
  it("parses host:port and [v6]:port", () => {
    expect(parsePeerAddress("127.0.0.1:7001")).toEqual({ host: "127.0.0.1", port: 7001 });
    expect(parsePeerAddress("[::1]:7001")).toEqual({ host: "::1", port: 7001 });
    expect(parsePeerAddress("node-a.internal:80")).toEqual({ host: "node-a.internal", port: 80 });
  });
  it("rejects anything else with InvalidArgumentError", () => {
    for (const bad of ["", "host", "host:", ":80", "host:99999", "::1:80"]) {
      expect(() => parsePeerAddress(bad)).toThrow(InvalidArgumentError);
    }
  });
});

describe("append batches encoded once for every follower", () => {
  // The wire format as a single pack of the 12-field array (docs/transport.md).
  const reference = new Packr({
    useRecords: false,
    mapsAsObjects: true,
    moreTypes: false,
    int64AsType: "number",
  });
  const whole = (m: Message): Uint8Array =>
    reference.pack([
      2,
      m.to,
      m.from,
      m.term,
      m.logTerm,
      m.index,
      m.entries.map((e) => [e.term, e.index, e.type, e.data]),
      m.commit,
      m.reject,
      m.rejectHint,
      m.context,
      null,
    ]);
  const entry = (index: number, term: number, text: string) => ({
    term,
    index,
    type: EntryType.Normal,
    data: new TextEncoder().encode(text),
  });
  const app = (to: number, entries: Message["entries"], commit: number): Message =>
    message({ type: MessageType.App, to, from: 1, term: 3, logTerm: 3, index: 9, entries, commit });

  it("sends each follower the same bytes a whole-message pack gives, with its own header", () => {
    const batch = [entry(10, 3, "a"), entry(11, 3, "b".repeat(300)), entry(12, 3, "")];
    for (const m of [app(2, batch, 10), app(3, batch.slice(), 11), app(4, [...batch], 12)]) {
      const bytes = encodeMessage(validateMessage(m, false));
      expect(Buffer.from(bytes).equals(Buffer.from(whole(m)))).toBe(true);
      expect(decodeMessage(bytes)).toEqual(m);
    }
  });

  it("big payloads travel as parts of their own, uncopied, in the same bytes", () => {
    const sized = (index: number, n: number) => ({
      term: 3,
      index,
      type: EntryType.Normal,
      data: new Uint8Array(n).map((_, i) => (i * 31 + index) & 255),
    });
    const sizes = [
      OWN_PART_ENTRY_BYTES - 1,
      OWN_PART_ENTRY_BYTES,
      0xffff,
      0x10000,
      1024 * 1024,
      ...Array.from({ length: 20 }, (_, i) => i * 7),
    ];
    for (const order of [sizes, [...sizes].reverse()]) {
      const batch = order.map((n, i) => sized(100 + i, n));
      const m = app(2, batch, 99);
      const bytes = encodeMessage(validateMessage(m, false));
      expect(Buffer.from(bytes).equals(Buffer.from(whole(m)))).toBe(true);
      expect(decodeMessage(bytes)).toEqual(m);
      const parts = encodeMessageFrame(FrameKind.Message, validateMessage(m, false));
      const big = batch.filter((e) => e.data.byteLength >= OWN_PART_ENTRY_BYTES);
      for (const e of big) expect(parts.some((p) => p === e.data)).toBe(true);
      const decoder = new FrameDecoder(4 * 1024 * 1024);
      const frames: Frame[] = [];
      for (const p of parts) decoder.push(p, (f) => frames.push(f));
      expect(frames.length).toBe(1);
      expect(Buffer.from(frames[0]!.body).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it("a batch whose entries were replaced is encoded afresh", () => {
    const before = [entry(20, 3, "x"), entry(21, 3, "y")];
    encodeMessage(app(2, before, 0));
    // Same indexes, a new leader's entries: never the cached bytes.
    const after = [entry(20, 3, "x"), entry(21, 4, "z")];
    expect(decodeMessage(encodeMessage(app(2, after, 0))).entries).toEqual(after);
    const sameTermNewData = [before[0]!, entry(21, 3, "w")];
    expect(decodeMessage(encodeMessage(app(2, sameTermNewData, 0))).entries).toEqual(
      sameTermNewData,
    );
  });
});
