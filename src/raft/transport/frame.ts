import { FrameDecodeError, FrameTooLargeError } from "./errors.js";

/**
 * A frame is `u32 big-endian length | u8 kind | body`, where length counts
 * the kind byte and the body. Kinds are part of the protocol: never renumber.
 */
export enum FrameKind {
  Hello = 1,
  /** Protocol version 1 only (the acceptor proved first); never sent by version 2. */
  Challenge = 2,
  Proof = 3,
  /** Protocol version 1 only. */
  Welcome = 4,
  Reject = 5,
  /** The acceptor's nonce, before anyone has proven anything (version 2). */
  ServerHello = 6,
  /** The acceptor's proof, sent only after it verified the dialer's (version 2). */
  ServerProof = 7,
  Message = 16,
  /** A message of a Raft group other than 0: u32 group id, then the message. */
  GroupMessage = 17,
  SnapshotBegin = 32,
  SnapshotChunk = 33,
  SnapshotEnd = 34,
  SnapshotAck = 35,
  /** SnapshotBegin of a Raft group other than 0: u32 group id, then the snap message. */
  GroupSnapshotBegin = 36,
  /** An opaque control payload between nodes, on a message connection. */
  Control = 48,
}

const KNOWN_KINDS: ReadonlySet<number> = new Set(
  Object.values(FrameKind).filter((v): v is number => typeof v === "number"),
);

export const FRAME_HEADER_BYTES = 5;
const LENGTH_BYTES = 4;

export interface Frame {
  readonly kind: FrameKind;
  /** A view of the received bytes, valid for as long as the caller keeps it. */
  readonly body: Uint8Array;
  /**
   * The body is the whole of a buffer of its own (assembled from several
   * reads, too big for Buffer's shared pool), not a view of memory shared
   * with other frames: a view into it keeps alive this frame's bytes only.
   */
  readonly owned?: boolean;
}

/** Bytes a frame with a body of `bodyBytes` occupies on the wire. */
export function frameBytes(bodyBytes: number): number {
  return FRAME_HEADER_BYTES + bodyBytes;
}

export function encodeFrame(kind: FrameKind, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.byteLength);
  out.writeUInt32BE(body.byteLength + 1, 0);
  out[LENGTH_BYTES] = kind;
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}

/** Only the header, for a body written separately (snapshot chunks are not copied). */
export function encodeFrameHeader(kind: FrameKind, bodyBytes: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  out.writeUInt32BE(bodyBytes + 1, 0);
  out[LENGTH_BYTES] = kind;
  return out;
}

/**
 * Incremental frame parser. Feed it socket chunks in order; it calls
 * `onFrame` for each complete frame. The announced length is checked against
 * `maxFrameBytes` before any buffer is allocated for it, so a hostile length
 * costs nothing. A frame inside a single chunk is passed as a view of that
 * chunk (socket chunks are fresh memory, never reused); one that spans chunks
 * is assembled into a buffer of exactly its size.
 *
 * Throws FrameTooLargeError or FrameDecodeError; after a throw the decoder is
 * unusable and the connection must be closed.
 */
export class FrameDecoder {
  /** Frame limit (kind + body bytes); may be raised once the peer is authenticated. */
  maxFrameBytes: number;
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  private pending: Buffer | undefined;
  private pendingFilled = 0;
  private pendingKind: FrameKind = FrameKind.Hello;
  private failed = false;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held for a frame that is not complete yet (bounded by maxFrameBytes). */
  get bufferedBytes(): number {
    return this.headerFilled + this.pendingFilled;
  }

  push(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    if (this.failed) throw new FrameDecodeError("decoder used after a failed frame");
    try {
      this.consume(chunk, onFrame);
    } catch (err) {
      this.failed = true;
      throw err;
    }
  }

  private consume(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    let pos = 0;
    const end = chunk.byteLength;
    while (pos < end) {
      if (this.pending !== undefined) {
        const take = Math.min(end - pos, this.pending.byteLength - this.pendingFilled);
        this.pending.set(chunk.subarray(pos, pos + take), this.pendingFilled);
        this.pendingFilled += take;
        pos += take;
        if (this.pendingFilled === this.pending.byteLength) {
          const body = this.pending;
          this.pending = undefined;
          this.pendingFilled = 0;
          const owned = body.byteOffset === 0 && body.buffer.byteLength === body.byteLength;
          onFrame({ kind: this.pendingKind, body, owned });
        }
        continue;
      }
      let length: number;
      let kind: number;
      if (this.headerFilled === 0 && end - pos >= FRAME_HEADER_BYTES) {
        length = readU32(chunk, pos);
        kind = chunk[pos + LENGTH_BYTES] as number;
        this.checkHeader(length, kind);
        pos += FRAME_HEADER_BYTES;
      } else {
        const take = Math.min(end - pos, FRAME_HEADER_BYTES - this.headerFilled);
        this.header.set(chunk.subarray(pos, pos + take), this.headerFilled);
        this.headerFilled += take;
        pos += take;
        // Check the length as soon as its 4 bytes are in, before waiting for more.
        if (this.headerFilled >= LENGTH_BYTES) this.checkLength(this.header.readUInt32BE(0));
        if (this.headerFilled < FRAME_HEADER_BYTES) continue;
        length = this.header.readUInt32BE(0);
        kind = this.header[LENGTH_BYTES] as number;
        this.headerFilled = 0;
        this.checkHeader(length, kind);
      }
      const bodyBytes = length - 1;
      if (end - pos >= bodyBytes) {
        onFrame({ kind: kind as FrameKind, body: chunk.subarray(pos, pos + bodyBytes) });
        pos += bodyBytes;
      } else {
        this.pending = Buffer.allocUnsafe(bodyBytes);
        this.pendingFilled = 0;
        this.pendingKind = kind as FrameKind;
      }
    }
  }

  private checkLength(length: number): void {
    if (length === 0)
      throw new FrameDecodeError("frame length 0 (a frame holds at least its kind)");
    if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
  }

  private checkHeader(length: number, kind: number): void {
    this.checkLength(length);
    if (!KNOWN_KINDS.has(kind)) throw new FrameDecodeError(`unknown frame kind ${kind}`);
  }
}

function readU32(b: Uint8Array, at: number): number {
  return (
    ((b[at] as number) * 0x1000000 +
      (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number))) >>>
    0
  );
}
