import { Packr } from "msgpackr";
import { COMMAND_DIGEST_BYTES, sameDigest } from "./command-digest.js";
import { IdempotencyKeyReusedError, InvalidKvCommandError } from "./errors.js";
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
 * A remembered request as one view into the arena: a flag byte (1 when a
 * command digest follows), the digest, then the encoded result.
 */
type Remembered = Uint8Array;

function packRemembered(arena: ByteArena, result: Uint8Array, digest?: Uint8Array): Remembered {
  const digestBytes = digest?.byteLength ?? 0;
  const out = arena.alloc(1 + digestBytes + result.byteLength);
  out[0] = digest === undefined ? 0 : 1;
  if (digest !== undefined) out.set(digest, 1);
  out.set(result, 1 + digestBytes);
  return out;
}

function rememberedDigest(r: Remembered): Uint8Array | undefined {
  return r[0] === 1 ? r.subarray(1, 1 + COMMAND_DIGEST_BYTES) : undefined;
}

function rememberedResult(r: Remembered): Uint8Array {
  return r.subarray(r[0] === 1 ? 1 + COMMAND_DIGEST_BYTES : 1);
}

/** One remembered request in a snapshot: id, encoded result and, since digests exist, digest. */
export type RequestEntry = [id: string, result: Uint8Array, digest?: Uint8Array];

/** Where the log's changes are kept as they happen (the store's backend). */
export interface RequestSink {
  put(seq: number, entry: RequestEntry): void;
  remove(id: string): void;
}

export class RequestLog {
  private readonly results = new Map<string, Remembered>();
  private readonly arena = new ByteArena();
  private bytes = 0;
  private nextSeq = 1;
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
    const first = this.results.get(id);
    if (first === undefined) return undefined;
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
    this.add([id, packr.pack(result), digest]);
  }

  /** In the order they were remembered, for a snapshot. */
  entries(): RequestEntry[] {
    // Views into the arena, no copies: a region is written once, when it is
    // allocated, and never reused, so a snapshot can read them at its pace.
    return [...this.results].map(([id, r]) => {
      const digest = rememberedDigest(r);
      const result = rememberedResult(r);
      return digest === undefined ? [id, result] : [id, result, digest];
    });
  }

  /** Adds an entry read back from a snapshot. */
  add([id, encoded, givenDigest]: RequestEntry): void {
    if (!REQUEST_ID_PATTERN.test(id)) {
      throw new InvalidKvCommandError(`request id ${JSON.stringify(id)} is not valid`);
    }
    if (givenDigest !== undefined && givenDigest.byteLength !== COMMAND_DIGEST_BYTES) {
      throw new InvalidKvCommandError(`request ${JSON.stringify(id)} has a malformed digest`);
    }
    this.forget(id);
    const remembered = packRemembered(this.arena, encoded, givenDigest);
    this.results.set(id, remembered);
    this.bytes += sizeOf(remembered);
    const seq = this.nextSeq++;
    this.sink?.put(seq, givenDigest === undefined ? [id, encoded] : [id, encoded, givenDigest]);
    if (this.results.size <= this.window.maxEntries && this.bytes <= this.window.maxBytes) return;
    for (const [oldest, value] of this.results) {
      if (this.results.size <= this.window.maxEntries && this.bytes <= this.window.maxBytes) break;
      this.forget(oldest, value);
    }
  }

  private forget(id: string, value = this.results.get(id)): void {
    if (value === undefined) return;
    this.results.delete(id);
    this.bytes -= sizeOf(value);
    this.sink?.remove(id);
  }
}

/**
 * Bump allocation in 64 KiB slabs for the remembered requests. They are
 * forgotten oldest first, so a slab is released once the last request in
 * it is. Each small Buffer or hash output would otherwise keep alive the
 * whole pool or working buffer it was sliced from: up to 8 KiB each.
 */
class ByteArena {
  private slab = new Uint8Array(0);
  private used = 0;

  alloc(n: number): Uint8Array {
    if (n > SLAB_BYTES / 4) return new Uint8Array(n);
    if (this.used + n > this.slab.byteLength) {
      this.slab = new Uint8Array(SLAB_BYTES);
      this.used = 0;
    }
    const out = this.slab.subarray(this.used, this.used + n);
    this.used += n;
    return out;
  }
}

const SLAB_BYTES = 64 * 1024;

/** What a remembered request counts against the window: result and digest bytes. */
function sizeOf(r: Remembered): number {
  return r.byteLength - 1;
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
