import type { SnapshotMetadata } from "../core/types.js";
import {
  ByteReader,
  ByteWriter,
  DecodeError,
  readConfState,
  sameSnapshotMetadata,
  writeConfState,
} from "./codec.js";
import { crc32c, crc32cUpdate } from "./crc32c.js";
import { StorageCorruptionError } from "./errors.js";
import type { ReadableFile, StorageFs } from "./fs.js";

/**
 * A snapshot file:
 *
 *   header   8 bytes magic "CNCLSNP1", u32 format version (1), u32 metadata
 *            length M, u32 CRC-32C over the first 16 header bytes and the metadata
 *   metadata M bytes: u64 index, u64 term, the configuration
 *   data     the application's bytes, as given
 *   footer   u64 data length, u32 CRC-32C of the data, u32 CRC-32C of the footer's first 12 bytes
 *
 * The footer comes last so data of unknown length can be streamed in.
 */
const MAGIC = new TextEncoder().encode("CNCLSNP1");
const FORMAT_VERSION = 1;
const HEADER_FIXED_BYTES = 20;
const FOOTER_BYTES = 16;
const MAX_METADATA_BYTES = 1024 * 1024;
const READ_CHUNK_BYTES = 1024 * 1024;
/** The most bytes checksummed and written in one step while writing a snapshot. */
const WRITE_SLICE_BYTES = 1024 * 1024;

const SNAPSHOT_NAME = /^snap-([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export function snapshotFileName(meta: { index: number; term: number }): string {
  const hex = (n: number) => n.toString(16).padStart(16, "0");
  return `snap-${hex(meta.index)}-${hex(meta.term)}.snap`;
}

export function parseSnapshotFileName(name: string): { index: number; term: number } | undefined {
  const m = SNAPSHOT_NAME.exec(name);
  return m ? { index: Number.parseInt(m[1]!, 16), term: Number.parseInt(m[2]!, 16) } : undefined;
}

function encodeHeader(meta: SnapshotMetadata): Uint8Array {
  const m = new ByteWriter();
  m.u64(meta.index);
  m.u64(meta.term);
  writeConfState(m, meta.confState);
  const metadata = m.view0();
  const w = new ByteWriter(HEADER_FIXED_BYTES + metadata.length);
  w.bytes(MAGIC);
  w.u32(FORMAT_VERSION);
  w.u32(metadata.length);
  const crc = crc32cUpdate(crc32c(w.view0()), metadata);
  w.u32(crc);
  w.bytes(metadata);
  return w.finish();
}

function encodeFooter(dataLength: number, dataCrc: number): Uint8Array {
  const w = new ByteWriter(FOOTER_BYTES);
  w.u64(dataLength);
  w.u32(dataCrc);
  w.u32(crc32c(w.view0()));
  return w.finish();
}

export interface SnapshotLayout {
  readonly metadata: SnapshotMetadata;
  readonly dataOffset: number;
  readonly dataLength: number;
  readonly dataCrc: number;
}

/** Parses the header and footer; `head` holds at least the file's first bytes. */
function parseLayout(head: Uint8Array, footer: Uint8Array, fileBytes: number): SnapshotLayout {
  for (let i = 0; i < MAGIC.length; i++) {
    if (head[i] !== MAGIC[i]) throw new DecodeError("not a snapshot file (bad magic)");
  }
  const r = new ByteReader(head, MAGIC.length);
  const version = r.u32("version");
  const metadataLength = r.u32("metadata length");
  const headerCrc = r.u32("header checksum");
  if (version !== FORMAT_VERSION) throw new DecodeError(`unsupported snapshot format ${version}`);
  if (metadataLength > MAX_METADATA_BYTES) {
    throw new DecodeError(`metadata length ${metadataLength} out of range`);
  }
  const dataOffset = HEADER_FIXED_BYTES + metadataLength;
  if (dataOffset + FOOTER_BYTES > fileBytes || head.length < dataOffset) {
    throw new DecodeError(`file of ${fileBytes} bytes is shorter than its header and footer`);
  }
  if (headerCrc !== crc32cUpdate(crc32c(head, 0, 16), head, HEADER_FIXED_BYTES, dataOffset)) {
    throw new DecodeError("header checksum mismatch");
  }
  const mr = new ByteReader(head, HEADER_FIXED_BYTES, dataOffset);
  const index = mr.u64("index");
  const term = mr.u64("term");
  const confState = readConfState(mr);
  mr.expectEnd("snapshot metadata");
  const fr = new ByteReader(footer);
  const dataLength = fr.u64("data length");
  const dataCrc = fr.u32("data checksum");
  if (fr.u32("footer checksum") !== crc32c(footer, 0, 12)) {
    throw new DecodeError("footer checksum mismatch");
  }
  if (dataOffset + dataLength + FOOTER_BYTES !== fileBytes) {
    throw new DecodeError(
      `footer records ${dataLength} data bytes but the file holds ${fileBytes - dataOffset - FOOTER_BYTES}`,
    );
  }
  return { metadata: { index, term, confState }, dataOffset, dataLength, dataCrc };
}

async function readExactly(
  file: ReadableFile,
  position: number,
  length: number,
): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = await file.read(buf.subarray(done), position + done);
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}

function corruption(path: string, err: unknown, offset?: number): never {
  if (err instanceof DecodeError) throw new StorageCorruptionError(path, offset, err.message);
  throw err;
}

/** Reads and checks a snapshot file's header and footer (not its data). */
export async function readSnapshotLayout(
  file: ReadableFile,
  path: string,
): Promise<SnapshotLayout> {
  try {
    const headLength = Math.min(file.sizeBytes, HEADER_FIXED_BYTES + MAX_METADATA_BYTES);
    let head = await readExactly(file, 0, Math.min(headLength, 4096));
    if (head.length >= HEADER_FIXED_BYTES) {
      const metadataLength = new DataView(head.buffer, head.byteOffset).getUint32(12, true);
      const want = HEADER_FIXED_BYTES + Math.min(metadataLength, MAX_METADATA_BYTES);
      if (want > head.length && want <= file.sizeBytes) head = await readExactly(file, 0, want);
    }
    if (file.sizeBytes < HEADER_FIXED_BYTES + FOOTER_BYTES) {
      throw new DecodeError(`file of ${file.sizeBytes} bytes is too short to be a snapshot`);
    }
    const footer = await readExactly(file, file.sizeBytes - FOOTER_BYTES, FOOTER_BYTES);
    return parseLayout(head, footer, file.sizeBytes);
  } catch (err) {
    return corruption(path, err);
  }
}

/** Like readSnapshotLayout, and fails unless the file holds the snapshot `expected` names. */
export async function readExpectedSnapshotLayout(
  file: ReadableFile,
  path: string,
  expected: SnapshotMetadata,
): Promise<SnapshotLayout> {
  const layout = await readSnapshotLayout(file, path);
  if (!sameSnapshotMetadata(layout.metadata, expected)) {
    throw new StorageCorruptionError(
      path,
      0,
      "snapshot file metadata differs from the WAL's snapshot record",
    );
  }
  return layout;
}

/** Reads a whole snapshot file synchronously and returns its checked data. */
export function readSnapshotDataSync(
  fs: StorageFs,
  path: string,
): { layout: SnapshotLayout; data: Uint8Array } {
  const bytes = fs.readFileSync(path);
  let layout: SnapshotLayout;
  try {
    layout = parseLayout(
      bytes,
      bytes.subarray(Math.max(0, bytes.length - FOOTER_BYTES)),
      bytes.length,
    );
  } catch (err) {
    return corruption(path, err);
  }
  const data = bytes.subarray(layout.dataOffset, layout.dataOffset + layout.dataLength);
  if (crc32c(data) !== layout.dataCrc) {
    throw new StorageCorruptionError(path, layout.dataOffset, "snapshot data checksum mismatch");
  }
  return { layout, data };
}

export type SnapshotData = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * Writes a snapshot to `tmpPath`, fsynced and closed, and returns its size.
 * The caller publishes it with rename + directory fsync. On failure the
 * temporary file is removed (best effort) and the error rethrown.
 */
export async function writeSnapshotTemp(
  fs: StorageFs,
  tmpPath: string,
  meta: SnapshotMetadata,
  data: SnapshotData,
): Promise<number> {
  const file = await fs.openWritable(tmpPath, "create");
  try {
    await file.append(encodeHeader(meta));
    let crc = 0;
    let length = 0;
    const chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array> =
      data instanceof Uint8Array ? [data] : data;
    for await (const chunk of chunks) {
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError("snapshot data must be Uint8Array chunks");
      }
      // A huge chunk is checksummed and written in slices, each an await:
      // the node's Ready loop runs between them (no multi-MB synchronous work).
      for (let at = 0; at < chunk.length; at += WRITE_SLICE_BYTES) {
        const slice = chunk.subarray(at, Math.min(chunk.length, at + WRITE_SLICE_BYTES));
        crc = crc32cUpdate(crc, slice);
        length += slice.length;
        await file.append(slice);
      }
    }
    await file.append(encodeFooter(length, crc));
    await file.datasync();
    const size = file.sizeBytes;
    await file.close();
    return size;
  } catch (err) {
    await file.close().catch(() => {});
    await fs.unlink(tmpPath).catch(() => {});
    throw err;
  }
}

/**
 * Streams one snapshot's data from an open file, checking the data checksum
 * at the end. The file stays readable after the storage replaces the
 * snapshot, because it is held open.
 */
export class SnapshotReader implements AsyncDisposable {
  private closed = false;

  constructor(
    readonly metadata: SnapshotMetadata,
    private readonly file: ReadableFile | undefined,
    private readonly path: string,
    private readonly layout: SnapshotLayout | undefined,
  ) {}

  /** Bytes of application data the snapshot holds. */
  get dataBytes(): number {
    return this.layout?.dataLength ?? 0;
  }

  /**
   * The data in chunks of at most `chunkBytes`. Throws StorageCorruptionError
   * after the last chunk when the checksum does not match, so a consumer must
   * not act on the data before the iteration ends normally.
   */
  async *chunks(chunkBytes = READ_CHUNK_BYTES): AsyncGenerator<Uint8Array> {
    if (this.closed) throw new Error("snapshot reader is closed");
    const file = this.file;
    const layout = this.layout;
    if (file === undefined || layout === undefined) return;
    let crc = 0;
    let pos = 0;
    while (pos < layout.dataLength) {
      const want = Math.min(chunkBytes, layout.dataLength - pos);
      const chunk = await readExactly(file, layout.dataOffset + pos, want);
      if (chunk.length !== want) {
        throw new StorageCorruptionError(
          this.path,
          layout.dataOffset + pos,
          "snapshot file ends early",
        );
      }
      crc = crc32cUpdate(crc, chunk);
      pos += want;
      if (pos === layout.dataLength && crc !== layout.dataCrc) {
        throw new StorageCorruptionError(
          this.path,
          layout.dataOffset,
          "snapshot data checksum mismatch",
        );
      }
      yield chunk;
    }
  }

  /** All of the data in one buffer (for small snapshots). */
  async readAll(): Promise<Uint8Array> {
    const out = new Uint8Array(this.dataBytes);
    let at = 0;
    for await (const chunk of this.chunks()) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
