import { Packr, RESET_BUFFER_MODE } from "msgpackr";
import { invariant } from "../raft/core/errors.js";
import { COMMAND_DIGEST_BYTES, sameDigest } from "./command-digest.js";
import { IdempotencyKeyReusedError, InvalidKvCommandError } from "./errors.js";
import { AddOrder, ByteArena, type Handle, IdTable } from "./request-arena.js";
import type { KvResult, WriteCommand } from "./types.js";

/**
 * The results of recently applied client requests, by request id, so a
 * request retried after a lost answer (a timeout, a leader change) is
 * answered with its first result instead of being applied twice (the client
 * sessions of the Raft thesis, §6.3, keyed per request rather than per
 * client). Part of the replicated state: every replica remembers the same
 * requests and forgets them in the same order, oldest first, once the window
 * is full by count or by bytes; a retry that arrives later than that applies
 * again, so clients retry within seconds, not hours.
 *
 * Refused requests are not remembered: they changed nothing, so applying a
 * retry afresh still has at most one effect.
 *
 * Each remembered result carries a digest of its command: an id sent again
 * with a different command is refused (IdempotencyKeyReusedError) rather
 * than answered with a result that belongs to another write.
 */
export interface RequestWindow {
  /** Remembered requests at most (default 100,000). */
  readonly maxEntries: number;
  /** Encoded result and command digest bytes remembered at most (default 32 MiB). */
  readonly maxBytes: number;
}

export const DEFAULT_REQUEST_WINDOW: RequestWindow = {
  maxEntries: 100_000,
  maxBytes: 32 * 1024 * 1024,
};

/** Request ids: what an HTTP header or a log entry can carry without escaping. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const packr = new Packr({ useRecords: false, moreTypes: false });

/**
 * A remembered request's bytes, as written into the arena: a flag byte (1
 * when a command digest follows), the id's length and its bytes, the
 * digest, then the encoded result.
 */
type Remembered = Uint8Array;

/** Bytes of a remembered request's head before its id: the flag and the id's length. */
const HEAD_BYTES = 2;
const ID_LENGTH_AT = 1;

function rowBytes(id: string, result: Uint8Array, digest: Uint8Array | undefined): number {
  return HEAD_BYTES + id.length + (digest?.byteLength ?? 0) + result.byteLength;
}

/** Lays a request out as a row in `out`, exactly rowBytes long. */
function writeRow(
  out: Uint8Array,
  id: string,
  result: Uint8Array,
  digest: Uint8Array | undefined,
): void {
  out[0] = digest === undefined ? 0 : 1;
  out[ID_LENGTH_AT] = id.length;
  for (let i = 0; i < id.length; i++) out[HEAD_BYTES + i] = id.charCodeAt(i);
  if (digest !== undefined) out.set(digest, HEAD_BYTES + id.length);
  out.set(result, HEAD_BYTES + id.length + (digest?.byteLength ?? 0));
}

/**
 * A request as a backend keeps it: the same layout (a request row). The
 * request log hands its backend the arena's bytes, which stay as they are
 * until the window passes them, so a backend writes them without encoding
 * or copying.
 */
export function encodeRequestRow(entry: RequestEntry): Uint8Array {
  const [id, result, digest] = entry;
  const out = new Uint8Array(rowBytes(id, result, digest));
  writeRow(out, id, result, digest);
  return out;
}

/** A request row's entry, as views of `row`. */
export function decodeRequestRow(row: Uint8Array): RequestEntry {
  const heads =
    row.byteLength < HEAD_BYTES || row[0]! > 1
      ? Number.POSITIVE_INFINITY
      : HEAD_BYTES + row[ID_LENGTH_AT]! + (row[0] === 1 ? COMMAND_DIGEST_BYTES : 0);
  if (row.byteLength < heads) {
    throw new InvalidKvCommandError("a remembered request's row is malformed");
  }
  return rememberedEntry(row);
}

/** The entry a row holds, as views of it. */
function rememberedEntry(r: Remembered): RequestEntry {
  const id = rememberedId(r);
  const result = rememberedResult(r);
  const digest = rememberedDigest(r);
  return digest === undefined ? [id, result] : [id, result, digest];
}

function rememberedId(r: Remembered): string {
  return Buffer.from(r.buffer, r.byteOffset + HEAD_BYTES, r[ID_LENGTH_AT]!).toString("latin1");
}

function rememberedDigest(r: Remembered): Uint8Array | undefined {
  if (r[0] !== 1) return undefined;
  const at = HEAD_BYTES + r[ID_LENGTH_AT]!;
  return r.subarray(at, at + COMMAND_DIGEST_BYTES);
}

function rememberedResult(r: Remembered): Uint8Array {
  return r.subarray(HEAD_BYTES + r[ID_LENGTH_AT]! + (r[0] === 1 ? COMMAND_DIGEST_BYTES : 0));
}

/** One remembered request in a snapshot: id, encoded result and, since digests exist, digest. */
export type RequestEntry = [id: string, result: Uint8Array, digest?: Uint8Array];

/**
 * Where the log's changes are kept as they happen (the store's backend), by
 * sequence number: each entry added gets the next one, so a backend that
 * keys them by it appends at one end and forgets at the other, and hands
 * them back oldest first.
 *
 * The sink learns below which number everything is forgotten, not each
 * entry forgotten: an entry forgotten out of turn (its id added again) stays
 * with it until the window passes it. Loading what the sink keeps, in order,
 * forgets that entry again when the same id's later entry is added, so a
 * log loaded from it goes on exactly as the one that wrote it. A backend
 * can then drop old entries in bulk rather than one by one.
 */
export interface RequestSink {
  /** `row` is the entry as a request row (decodeRequestRow reads it), unchanged until it is forgotten. */
  put(seq: number, row: Uint8Array): void;
  /** Every entry put under a number below `seq` is forgotten; `seq` never decreases. */
  forgetBefore(seq: number): void;
}

export class RequestLog {
  private readonly arena = new ByteArena();
  /** Each id's entry in the arena. */
  private readonly results = new IdTable({
    idLength: (handle) => this.arena.byteAt(handle, ID_LENGTH_AT),
    idByte: (handle, i) => this.arena.byteAt(handle, HEAD_BYTES + i),
  });
  /**
   * Every entry added, with its number, oldest first: the next to forget
   * is found here. An id added again leaves its older entry behind, skipped
   * because `results` points at a newer one.
   */
  private readonly order = new AddOrder();
  private bytes = 0;
  private nextSeq = 1;
  /** The number of the oldest entry still remembered, as last told to the sink. */
  private rememberedFrom = 0;
  private sink: RequestSink | undefined;

  constructor(private readonly window: RequestWindow = DEFAULT_REQUEST_WINDOW) {
    for (const [name, v] of Object.entries(window)) {
      if (!Number.isSafeInteger(v) || v < 1) {
        throw new InvalidKvCommandError(`request window ${name} must be a positive integer`);
      }
    }
  }

  get size(): number {
    return this.results.size;
  }

  /** From now on every entry added or forgotten is also told to `sink`. */
  attach(sink: RequestSink): void {
    this.sink = sink;
  }

  /**
   * The first result of this request, if it is still remembered; throws
   * IdempotencyKeyReusedError when the id was first used for another command.
   * An entry without a digest (from an older snapshot) is trusted only for a
   * command of the same type, which at least keeps the answer's shape right.
   */
  answer(id: string, command: WriteCommand, digest: Uint8Array): KvResult | undefined {
    const handle = this.results.get(id);
    if (handle === undefined) return undefined;
    const first = this.arena.view(handle);
    const firstDigest = rememberedDigest(first);
    if (firstDigest !== undefined && !sameDigest(firstDigest, digest)) {
      throw new IdempotencyKeyReusedError(id);
    }
    const result = plainBytes(packr.unpack(rememberedResult(first))) as KvResult;
    if (firstDigest === undefined && result.type !== command.type) {
      throw new IdempotencyKeyReusedError(id);
    }
    return result;
  }

  remember(id: string, digest: Uint8Array, result: KvResult): void {
    if (result.type === "error") return;
    // Packed into msgpackr's working buffer, which the next pack reuses:
    // add copies the bytes into the arena at once.
    this.add([id, packr.pack(result, RESET_BUFFER_MODE), digest]);
  }

  /** In the order they were remembered, for a snapshot. */
  entries(): RequestEntry[] {
    // Views into the arena, no copies: a region is written once, when it is
    // allocated, and never reused, so a snapshot can read them at its pace.
    const out: RequestEntry[] = [];
    for (let i = 0; i < this.order.length; i++) {
      const handle = this.order.handleAt(i);
      if (this.results.current(handle)) out.push(rememberedEntry(this.arena.view(handle)));
    }
    return out;
  }

  /**
   * Adds an entry read back from a snapshot, which numbers it next, or from
   * a backend, with the sequence number it was kept under: numbering goes on
   * after the highest one, so what is added next is kept as younger than
   * everything loaded, across any number of restarts.
   */
  add([id, encoded, givenDigest]: RequestEntry, seq = this.nextSeq): void {
    if (!REQUEST_ID_PATTERN.test(id)) {
      throw new InvalidKvCommandError(`request id ${JSON.stringify(id)} is not valid`);
    }
    if (givenDigest !== undefined && givenDigest.byteLength !== COMMAND_DIGEST_BYTES) {
      throw new InvalidKvCommandError(`request ${JSON.stringify(id)} has a malformed digest`);
    }
    if (!Number.isSafeInteger(seq) || seq < this.nextSeq) {
      throw new InvalidKvCommandError(
        `request ${JSON.stringify(id)} has sequence number ${seq}, not after ${this.nextSeq - 1}`,
      );
    }
    this.nextSeq = seq + 1;
    this.forget(id);
    const handle = this.arena.alloc(rowBytes(id, encoded, givenDigest));
    writeRow(this.arena.view(handle), id, encoded, givenDigest);
    this.results.set(id, handle);
    this.order.push(handle, seq);
    this.bytes += this.weight(handle);
    // The arena's copy, which stays as it is, not the caller's bytes: a
    // backend may read them when its commit is written.
    this.sink?.put(seq, this.arena.view(handle));
    while (this.results.size > this.window.maxEntries || this.bytes > this.window.maxBytes) {
      const oldest = this.oldestRemembered();
      invariant(oldest !== undefined, "request log over its window with nothing to forget");
      this.order.shift();
      this.results.deleteEntry(oldest);
      this.bytes -= this.weight(oldest);
    }
    // None when the entry just added weighs more than the whole window.
    const oldest = this.oldestRemembered();
    const from = oldest === undefined ? this.nextSeq : this.order.seqAt(0);
    if (from === this.rememberedFrom) return;
    this.rememberedFrom = from;
    if (oldest !== undefined) this.arena.releaseBefore(oldest);
    this.sink?.forgetBefore(from);
  }

  /**
   * The handle of the oldest entry still remembered, at the front of
   * `order` once this returns: older entries of ids added again are dropped.
   */
  private oldestRemembered(): Handle | undefined {
    for (; this.order.length > 0; this.order.shift()) {
      const handle = this.order.handleAt(0);
      if (this.results.current(handle)) return handle;
    }
    return undefined;
  }

  private forget(id: string): void {
    const handle = this.results.delete(id);
    if (handle !== undefined) this.bytes -= this.weight(handle);
  }

  /**
   * What a remembered request counts against the window: its result and
   * digest bytes (not its id: the window is part of the replicated state,
   * and every version must weigh an entry alike).
   */
  private weight(handle: Handle): number {
    return this.arena.size(handle) - HEAD_BYTES - this.arena.byteAt(handle, ID_LENGTH_AT);
  }
}

/** The decoder hands back Buffers; results carry plain Uint8Arrays, as the store's own do. */
function plainBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (Array.isArray(value)) return value.map(plainBytes);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainBytes(v);
    return out;
  }
  return value;
}
