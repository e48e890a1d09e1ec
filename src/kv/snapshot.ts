import { createHash, type Hash } from "node:crypto";
import { Packr } from "msgpackr";
import { type AlarmWire, parseAlarmWire } from "./alarms.js";
import { type AuthWire, parseAuthWire } from "./auth-table.js";
import { type KeyString, ownedCopy, toKeyBytes, toKeyString } from "./bytes.js";
import { InvalidKvCommandError } from "./errors.js";
import { type MemberWire, parseMemberWire } from "./members.js";
import type { KeyRecord } from "./mvcc.js";
import type { RequestEntry } from "./requests.js";

/**
 * Snapshot stream: frames of u32 length + MessagePack. Frame 1 is the header,
 * then batches of key histories, then a trailer with the key count so a
 * truncated stream is caught rather than restored short.
 */
export interface SnapshotHeader {
  readonly v: 1;
  readonly revision: number;
  readonly compactRevision: number;
  readonly appliedIndex: number;
  readonly nextLeaseId: number;
  /**
   * [id, ttlMs, renewals, checkpointed remainingMs?]; attached keys are
   * rebuilt from the key records. Snapshots written before renewals were
   * counted hold pairs (renewals 0), before checkpoints triples.
   */
  readonly leases: [number, number, number?, number?][];
  /** Member metadata; absent in snapshots written before it existed. */
  readonly members?: MemberWire[];
  /** Users, roles and the enabled flag; absent in older snapshots (auth off, no users). */
  readonly auth?: AuthWire;
  /** Raised alarms; absent in snapshots written before alarms existed (none raised). */
  readonly alarms?: AlarmWire[];
}

export interface SnapshotContents {
  readonly header: SnapshotHeader;
  readonly histories: Iterable<[KeyString, readonly KeyRecord[]]>;
  /** Remembered request results, oldest first: [request id, encoded result, command digest]. */
  readonly requests: RequestEntry[];
}

const KEYS_PER_FRAME = 1024;
/** A frame closes once its values pass this many bytes, so big values never make one huge frame. */
const FRAME_VALUE_BYTES = 1024 * 1024;
const MAX_FRAME_BYTES = 256 * 1024 * 1024;
const packr = new Packr({ useRecords: false, moreTypes: false });

type WireRecord = [number, number, number, number, Uint8Array, number];

function frame(value: unknown): Uint8Array {
  const body = packr.pack(value);
  const out = new Uint8Array(4 + body.byteLength);
  new DataView(out.buffer).setUint32(0, body.byteLength);
  out.set(body, 4);
  return out;
}

/**
 * Encodes lazily, a frame at a time: `histories` is read as the stream is,
 * so a store can hand over a view that stays cheap while it is read.
 */
export async function* encodeSnapshot(
  contents: SnapshotContents,
  options: SnapshotEncodeOptions = {},
): AsyncGenerator<Uint8Array> {
  if (options.sha256Trailer !== true) {
    const keys = yield* encodeFrames(contents);
    yield frame({ end: keys });
    return;
  }
  const digest = createHash("sha256");
  let total = 0;
  const frames = encodeFrames(contents);
  for (;;) {
    const next = frames.next();
    if (next.done === true) {
      yield* sha256Trailer(digest, total, next.value);
      return;
    }
    digest.update(next.value);
    total += next.value.byteLength;
    yield next.value;
  }
}

export interface SnapshotEncodeOptions {
  /**
   * End the stream the way etcd ends a snapshot: a whole number of 512-byte
   * blocks followed by the SHA-256 of everything before it (etcdctl refuses
   * a snapshot that does not end so). The stream stays a Conclave snapshot:
   * a padding frame (an empty key batch) makes up the length, and the digest
   * is the last field of the end frame, which the decoder does not read.
   */
  readonly sha256Trailer?: boolean;
}

const SHA256_BYTES = 32;
const ETCD_BLOCK_BYTES = 512;

function* sha256Trailer(digest: Hash, total: number, keys: number): Generator<Uint8Array> {
  const end = frame({ end: keys, sha256: new Uint8Array(SHA256_BYTES) });
  let pad: Uint8Array | undefined;
  // Each pad byte adds one to the length (bin16's longer header skips one value,
  // once, at 256), so every remainder mod 512 is reached before n = 768.
  for (let n = 0; pad === undefined; n++) {
    const candidate = frame({ keys: [], pad: new Uint8Array(n) });
    const length = total + candidate.byteLength + end.byteLength;
    if (length % ETCD_BLOCK_BYTES === SHA256_BYTES) pad = candidate;
  }
  digest.update(pad);
  digest.update(end.subarray(0, end.byteLength - SHA256_BYTES));
  end.set(digest.digest(), end.byteLength - SHA256_BYTES);
  yield pad;
  yield end;
}

/** Every frame but the end frame; returns the number of keys written. */
function* encodeFrames(contents: SnapshotContents): Generator<Uint8Array, number> {
  yield frame(contents.header);
  let keys = 0;
  let batch: [Uint8Array, WireRecord[]][] = [];
  let batchBytes = 0;
  for (const [key, h] of contents.histories) {
    keys++;
    const records = h.map((r): WireRecord => {
      const value = r.value;
      batchBytes += value.byteLength;
      return [r.modRevision, r.subRevision, r.createRevision, r.version, value, r.lease];
    });
    batch.push([toKeyBytes(key), records]);
    if (batch.length >= KEYS_PER_FRAME || batchBytes >= FRAME_VALUE_BYTES) {
      yield frame({ keys: batch });
      batch = [];
      batchBytes = 0;
    }
  }
  if (batch.length > 0) yield frame({ keys: batch });
  const { requests } = contents;
  for (let i = 0; i < requests.length; i += KEYS_PER_FRAME) {
    yield frame({ requests: requests.slice(i, i + KEYS_PER_FRAME) });
  }
  return keys;
}

function fail(what: string): never {
  throw new InvalidKvCommandError(`kv snapshot is corrupt: ${what}`);
}

function int(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) fail(`${what} is not a count`);
  return v;
}

/** The header frame (also what a backend keeps as the store's tables), checked. */
export function parseSnapshotHeader(value: unknown): SnapshotHeader {
  if (typeof value !== "object" || value === null) fail("header is not an object");
  const f = value as Record<string, unknown>;
  if (f["v"] !== 1) fail("unknown header version");
  const leases = f["leases"];
  if (!Array.isArray(leases)) fail("leases missing");
  const members = parseMemberWire(f["members"]);
  const auth = parseAuthWire(f["auth"]);
  const alarms = parseAlarmWire(f["alarms"]);
  return {
    v: 1,
    ...(alarms !== undefined && { alarms }),
    ...(members !== undefined && { members }),
    ...(auth !== undefined && { auth }),
    revision: int(f["revision"], "revision"),
    compactRevision: int(f["compactRevision"], "compactRevision"),
    appliedIndex: int(f["appliedIndex"], "appliedIndex"),
    nextLeaseId: int(f["nextLeaseId"], "nextLeaseId"),
    leases: leases.map((l: unknown) => {
      if (!Array.isArray(l)) fail("lease entry");
      const renewals = l[2] === undefined ? 0 : int(l[2], "lease renewals");
      const entry: [number, number, number, number?] = [
        int(l[0], "lease id"),
        int(l[1], "lease ttl"),
        renewals,
      ];
      if (l[3] !== undefined && l[3] !== null) entry.push(int(l[3], "lease remaining ttl"));
      return entry;
    }),
  };
}

/** The header as bytes, for a backend's tables. */
export function packSnapshotHeader(header: SnapshotHeader): Uint8Array {
  return packr.pack(header);
}

export function unpackSnapshotHeader(bytes: Uint8Array): SnapshotHeader {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch {
    fail("tables are not MessagePack");
  }
  return parseSnapshotHeader(value);
}

/** Reads a snapshot stream; an empty stream (a node that never had state) reads as undefined. */
export async function decodeSnapshot(
  data: AsyncIterable<Uint8Array>,
): Promise<SnapshotContents | undefined> {
  let header: SnapshotHeader | undefined;
  const histories: [KeyString, KeyRecord[]][] = [];
  const requests: RequestEntry[] = [];
  let ended = false;
  for await (const value of frames(data)) {
    if (ended) fail("data after the trailer");
    const f = value as Record<string, unknown>;
    if (header === undefined) {
      header = parseSnapshotHeader(f);
    } else if (Array.isArray(f["keys"])) {
      for (const entry of f["keys"] as unknown[]) {
        if (!Array.isArray(entry) || !(entry[0] instanceof Uint8Array) || !Array.isArray(entry[1]))
          fail("key entry");
        const records = (entry[1] as unknown[]).map((r): KeyRecord => {
          if (!Array.isArray(r) || !(r[4] instanceof Uint8Array)) fail("key record");
          return {
            modRevision: int(r[0], "modRevision"),
            subRevision: int(r[1], "subRevision"),
            createRevision: int(r[2], "createRevision"),
            version: int(r[3], "version"),
            value: ownedCopy(r[4]),
            lease: int(r[5], "lease"),
          };
        });
        if (records.length === 0) fail("key with no records");
        histories.push([toKeyString(entry[0]), records]);
      }
    } else if (Array.isArray(f["requests"])) {
      for (const entry of f["requests"] as unknown[]) {
        if (!Array.isArray(entry) || typeof entry[0] !== "string") fail("request entry");
        if (!(entry[1] instanceof Uint8Array)) fail("request result");
        // Snapshots written before digests were kept have none.
        if (entry[2] === undefined) requests.push([entry[0], Uint8Array.from(entry[1])]);
        else if (entry[2] instanceof Uint8Array) {
          requests.push([entry[0], Uint8Array.from(entry[1]), Uint8Array.from(entry[2])]);
        } else fail("request digest");
      }
    } else if (f["end"] !== undefined) {
      if (int(f["end"], "key count") !== histories.length) fail("key count mismatch");
      ended = true;
    } else {
      fail("unknown frame");
    }
  }
  if (header === undefined) return undefined;
  if (!ended) fail("stream ends before its trailer");
  return { header, histories, requests };
}

async function* frames(data: AsyncIterable<Uint8Array>): AsyncGenerator<unknown> {
  // Chunks are kept in a list and joined once a whole frame is there, so a
  // big frame arriving in small chunks costs its size, not its size squared.
  let chunks: Buffer[] = [];
  let buffered = 0;
  let need = 4;
  let frameLength: number | undefined;
  for await (const chunk of data) {
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    buffered += chunk.byteLength;
    while (buffered >= need) {
      let buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
      if (frameLength === undefined) {
        frameLength = buf.readUInt32BE(0);
        if (frameLength > MAX_FRAME_BYTES) fail(`frame of ${frameLength} bytes`);
        need = 4 + frameLength;
        chunks = [buf];
        if (buffered < need) break;
      }
      let value: unknown;
      try {
        value = packr.unpack(buf.subarray(4, 4 + frameLength));
      } catch {
        fail("frame is not MessagePack");
      }
      if (typeof value !== "object" || value === null) fail("frame is not an object");
      yield value;
      buf = buf.subarray(4 + frameLength);
      chunks = buf.byteLength > 0 ? [buf] : [];
      buffered = buf.byteLength;
      frameLength = undefined;
      need = 4;
    }
  }
  if (buffered > 0) fail("trailing partial frame");
}
