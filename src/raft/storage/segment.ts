import { ByteReader, ByteWriter, DecodeError } from "./codec.js";
import { crc32c } from "./crc32c.js";

/**
 * A segment file starts with a 32-byte header:
 *
 *   0  8 bytes  magic "CNCLWAL1"
 *   8  u32      format version (1)
 *  12  u8       kind: 1 = base (starts with a Snapshot record), 2 = continuation
 *  13  3 bytes  zero
 *  16  u64      sequence number (also in the file name)
 *  24  u32      CRC-32C of bytes 0..24
 *  28  u32      zero
 *
 * Records follow from offset 32.
 */
export const SEGMENT_HEADER_BYTES = 32;
export const WAL_FORMAT_VERSION = 1;
const MAGIC = new TextEncoder().encode("CNCLWAL1");

export enum SegmentKind {
  Base = 1,
  Continuation = 2,
}

const SEGMENT_NAME = /^wal-([0-9a-f]{16})\.seg$/;

export function segmentFileName(seq: number): string {
  return `wal-${seq.toString(16).padStart(16, "0")}.seg`;
}

/** The sequence number of a segment file name, or undefined for other names. */
export function parseSegmentFileName(name: string): number | undefined {
  const m = SEGMENT_NAME.exec(name);
  return m ? Number.parseInt(m[1]!, 16) : undefined;
}

export function encodeSegmentHeader(kind: SegmentKind, seq: number): Uint8Array {
  const w = new ByteWriter(SEGMENT_HEADER_BYTES);
  w.bytes(MAGIC);
  w.u32(WAL_FORMAT_VERSION);
  w.u8(kind);
  w.u8(0);
  w.u8(0);
  w.u8(0);
  w.u64(seq);
  w.u32(crc32c(w.view0()));
  w.u32(0);
  return w.finish();
}

export function decodeSegmentHeader(buf: Uint8Array): { kind: SegmentKind; seq: number } {
  if (buf.length < SEGMENT_HEADER_BYTES) {
    throw new DecodeError(
      `segment header needs ${SEGMENT_HEADER_BYTES} bytes, file has ${buf.length}`,
    );
  }
  for (let i = 0; i < MAGIC.length; i++) {
    if (buf[i] !== MAGIC[i]) throw new DecodeError("not a WAL segment (bad magic)");
  }
  const r = new ByteReader(buf, MAGIC.length, SEGMENT_HEADER_BYTES);
  const version = r.u32("version");
  const kind = r.u8("kind");
  const pad = r.u8("pad") | r.u8("pad") | r.u8("pad");
  const seq = r.u64("sequence number");
  const crc = r.u32("header checksum");
  const tail = r.u32("pad");
  if (crc !== crc32c(buf, 0, 24)) throw new DecodeError("segment header checksum mismatch");
  if (version !== WAL_FORMAT_VERSION) {
    throw new DecodeError(`unsupported WAL format version ${version}`);
  }
  if (kind !== SegmentKind.Base && kind !== SegmentKind.Continuation) {
    throw new DecodeError(`unknown segment kind ${kind}`);
  }
  if (pad !== 0 || tail !== 0) throw new DecodeError("segment header padding is not zero");
  return { kind, seq };
}
