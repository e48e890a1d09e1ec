import { Packr, RESET_BUFFER_MODE } from "msgpackr";
import { concatParts } from "../../byte-parts.js";
import { arrayHeader, bigBinaryHeader, fixArray } from "../../msgpack-headers.js";
import type { Entry, Message } from "../core/types.js";
import { MessageType } from "../core/types.js";
import { FrameDecodeError, InvalidMessageError } from "./errors.js";
import { FRAME_HEADER_BYTES, type FrameKind } from "./frame.js";
import { GROUP_PREFIX_BYTES } from "./group.js";
import { validateMessage } from "./message-validate.js";

/**
 * A Message on the wire is a MessagePack array in a fixed field order (see
 * docs/transport.md), with the type as a small integer code. Arrays rather
 * than maps keep a heartbeat near 20 bytes, and a fixed order means decoding
 * never depends on state carried over from earlier frames.
 */
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  moreTypes: false,
  int64AsType: "number",
});

/** Wire codes are part of the protocol: never renumber, only append. */
const CODE_BY_TYPE: ReadonlyMap<MessageType, number> = new Map([
  [MessageType.Prop, 1],
  [MessageType.App, 2],
  [MessageType.AppResp, 3],
  [MessageType.Vote, 4],
  [MessageType.VoteResp, 5],
  [MessageType.PreVote, 6],
  [MessageType.PreVoteResp, 7],
  [MessageType.Snap, 8],
  [MessageType.Heartbeat, 9],
  [MessageType.HeartbeatResp, 10],
  [MessageType.TransferLeader, 11],
  [MessageType.TimeoutNow, 12],
  [MessageType.ReadIndex, 13],
  [MessageType.ReadIndexResp, 14],
]);

const TYPE_BY_CODE: ReadonlyMap<number, MessageType> = new Map(
  [...CODE_BY_TYPE].map(([type, code]) => [code, type]),
);

const MESSAGE_FIELDS = 12;
const ENTRY_FIELDS = 4;
const SNAPSHOT_FIELDS = 8;
const EMPTY_BYTES = new Uint8Array(0);

/** Message types that may cross the network (local-only types have no wire code). */
export function hasWireCode(type: MessageType): boolean {
  return CODE_BY_TYPE.has(type);
}

/**
 * Encodes a message that has already been validated. With `omitSnapshotData`
 * the snapshot travels without its bytes (they are streamed separately).
 */
export function encodeMessage(m: Message, omitSnapshotData = false): Uint8Array {
  const parts = encodeMessageParts(m, omitSnapshotData, false);
  if (parts.length === 1) return parts[0] as Uint8Array;
  return concatParts(parts, 0);
}

/**
 * A frame of `kind` carrying the encoded message, as parts to write in order
 * (one writev): what a transport queues. Their concatenation equals
 * encodeFrame(kind, encodeMessage(m)), or with `group`
 * encodeFrame(kind, withGroupPrefix(group, encodeMessage(m))). Big entry
 * payloads are parts of their own, the entries' own bytes, never copied.
 */
export function encodeMessageFrame(
  kind: FrameKind,
  m: Message,
  group?: number,
): readonly Uint8Array[] {
  const [first, ...rest] = encodeMessageParts(m, false, true);
  const prefix = group === undefined ? 0 : GROUP_PREFIX_BYTES;
  let bodyBytes = prefix + first!.byteLength;
  for (const p of rest) bodyBytes += p.byteLength;
  // The first part is a view of msgpackr's shared buffer: copied, behind the frame header.
  const head = concatParts([first!], FRAME_HEADER_BYTES + prefix);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  view.setUint32(0, bodyBytes + 1);
  head[FRAME_HEADER_BYTES - 1] = kind;
  if (group !== undefined) view.setUint32(FRAME_HEADER_BYTES, group);
  return [head, ...rest];
}

/**
 * The message's bytes in parts; concatenated, the same bytes as packing the
 * whole 12-field array. The first part is a view of msgpackr's shared buffer,
 * valid until the next pack; the others are owned. A message without entries
 * is that one part. With entries: the head, the entries' encoding (parts of
 * their own, shared by every follower a batch goes to: see EncodedBatches),
 * and the tail.
 */
function encodeMessageParts(
  m: Message,
  omitSnapshotData: boolean,
  /** The caller copies the first part before anything else is packed. */
  firstCopied: boolean,
): Uint8Array[] {
  const firstMode = firstCopied ? RESET_BUFFER_MODE : 0;
  const code = CODE_BY_TYPE.get(m.type);
  if (code === undefined) throw new InvalidMessageError("type", `${m.type} cannot be sent`);
  const s = m.snapshot;
  const snapshot =
    s === undefined
      ? null
      : [
          s.metadata.index,
          s.metadata.term,
          s.metadata.confState.voters,
          s.metadata.confState.votersOutgoing,
          s.metadata.confState.learners,
          s.metadata.confState.learnersNext,
          s.metadata.confState.autoLeave,
          omitSnapshotData ? EMPTY_BYTES : s.data,
        ];
  if (m.entries.length > 0) {
    const entries = encodedBatches.get(m.entries);
    // Copied at once, so packed where the next pack (the head's) writes again.
    const tail = new Uint8Array(
      packr
        .pack([m.commit, m.reject, m.rejectHint, m.context, snapshot], RESET_BUFFER_MODE)
        .subarray(1),
    );
    const head = packr.pack([code, m.to, m.from, m.term, m.logTerm, m.index], firstMode);
    // The 6-element array header becomes the 12-element message's header.
    head[0] = fixArray(MESSAGE_FIELDS);
    return [head, ...entries, tail];
  }
  return [
    packr.pack(
      [
        code,
        m.to,
        m.from,
        m.term,
        m.logTerm,
        m.index,
        [],
        m.commit,
        m.reject,
        m.rejectHint,
        m.context,
        snapshot,
      ],
      firstMode,
    ),
  ];
}

/** Entries at least this big travel as a part of their own, their bytes never copied. */
export const OWN_PART_ENTRY_BYTES = 16 * 1024;

/**
 * A batch of entries as MessagePack's array of [term, index, type, data]
 * tuples, in parts: runs of small entries packed (and copied out of
 * msgpackr's buffer), and for each big one a small header part followed by
 * its data itself. Concatenated, the same bytes as packing the whole array.
 */
export function encodeEntries(entries: readonly Entry[]): Uint8Array[] {
  const parts: Uint8Array[] = [arrayHeader(entries.length)];
  let run: unknown[] = [];
  const endRun = () => {
    if (run.length === 0) return;
    const packed = packr.pack(run, RESET_BUFFER_MODE);
    parts.push(new Uint8Array(packed.subarray(arrayHeader(run.length).byteLength)));
    run = [];
  };
  for (const e of entries) {
    if (e.data.byteLength < OWN_PART_ENTRY_BYTES) {
      run.push([e.term, e.index, e.type, e.data]);
      continue;
    }
    endRun();
    const fields = packr.pack([e.term, e.index, e.type], RESET_BUFFER_MODE);
    const bin = bigBinaryHeader(e.data.byteLength);
    const head = new Uint8Array(fields.byteLength + bin.byteLength);
    head.set(fields);
    head[0] = fixArray(ENTRY_FIELDS);
    head.set(bin, fields.byteLength);
    parts.push(head, e.data);
  }
  endRun();
  return parts;
}

/**
 * The encodings of the last few entry batches. A batch is recognised by its
 * length and its first and last entries (index, term and the very payload
 * object): a slice of one log with those is the same slice. Keyed by
 * identity of the payloads rather than by the entry objects because the
 * transport validates (and so rebuilds) each message it sends.
 */
class EncodedBatches {
  private readonly slots: {
    first: Entry;
    last: Entry;
    length: number;
    parts: readonly Uint8Array[];
  }[] = [];
  private next = 0;

  constructor(private readonly size: number) {}

  get(entries: readonly Entry[]): readonly Uint8Array[] {
    const first = entries[0] as Entry;
    const last = entries[entries.length - 1] as Entry;
    for (const slot of this.slots) {
      if (
        slot.length === entries.length &&
        sameEntry(slot.first, first) &&
        sameEntry(slot.last, last)
      ) {
        return slot.parts;
      }
    }
    const parts = encodeEntries(entries);
    this.slots[this.next] = { first, last, length: entries.length, parts };
    this.next = (this.next + 1) % this.size;
    return parts;
  }
}

function sameEntry(a: Entry, b: Entry): boolean {
  return a.data === b.data && a.index === b.index && a.term === b.term && a.type === b.type;
}

const encodedBatches = new EncodedBatches(8);

/**
 * Decodes and validates one message. Throws FrameDecodeError when the bytes
 * are not one MessagePack value, InvalidMessageError when the value is not a
 * valid network message. The result shares no memory with `body`, so the
 * caller may reuse or release it, except when `ownedBody` says the body is a
 * buffer of its own that nobody writes again (see Frame.owned): then entries
 * of OWN_PART_ENTRY_BYTES or more stay views of it. The copy of a big entry
 * is the one a follower can skip, and a view of an owned body keeps no one
 * else's bytes alive.
 */
export function decodeMessage(body: Uint8Array, ownedBody = false): Message {
  const value = unpackOne(body, "message");
  if (!Array.isArray(value) || value.length !== MESSAGE_FIELDS) {
    throw new InvalidMessageError("message", `must be an array of ${MESSAGE_FIELDS} fields`);
  }
  const code: unknown = value[0];
  const type = typeof code === "number" ? TYPE_BY_CODE.get(code) : undefined;
  if (type === undefined)
    throw new InvalidMessageError("type", `unknown wire code ${String(code)}`);
  const rawEntries: unknown = value[6];
  if (!Array.isArray(rawEntries)) throw new InvalidMessageError("entries", "must be an array");
  const entries = rawEntries.map((e: unknown, i) => {
    if (!Array.isArray(e) || e.length !== ENTRY_FIELDS) {
      throw new InvalidMessageError(`entries[${i}]`, `must be an array of ${ENTRY_FIELDS} fields`);
    }
    return { term: e[0], index: e[1], type: e[2], data: e[3] };
  });
  const s: unknown = value[11];
  let snapshot: unknown;
  if (s !== null) {
    if (!Array.isArray(s) || s.length !== SNAPSHOT_FIELDS) {
      throw new InvalidMessageError(
        "snapshot",
        `must be null or an array of ${SNAPSHOT_FIELDS} fields`,
      );
    }
    snapshot = {
      metadata: {
        index: s[0],
        term: s[1],
        confState: {
          voters: s[2],
          votersOutgoing: s[3],
          learners: s[4],
          learnersNext: s[5],
          autoLeave: s[6],
        },
      },
      data: s[7],
    };
  }
  return validateMessage(
    {
      type,
      to: value[1],
      from: value[2],
      term: value[3],
      logTerm: value[4],
      index: value[5],
      entries,
      commit: value[7],
      reject: value[8],
      rejectHint: value[9],
      context: value[10],
      snapshot,
    },
    true,
    ownedBody ? OWN_PART_ENTRY_BYTES : Number.POSITIVE_INFINITY,
  );
}

/** Packs any plain value (handshake and control frames). */
export function packValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Unpacks exactly one MessagePack value; anything else is a FrameDecodeError. */
export function unpackOne(body: Uint8Array, what: string): unknown {
  if (body.byteLength === 0) throw new FrameDecodeError(`empty ${what} payload`);
  try {
    return packr.unpack(body);
  } catch (err) {
    throw new FrameDecodeError(
      `undecodable ${what} payload: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}
