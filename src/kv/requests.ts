import { Packr, RESET_BUFFER_MODE } from "msgpackr";
import { invariant } from "../raft/core/errors.js";
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
 * A remembered request's bytes, as written into the arena: a flag byte (1
 * when a command digest follows), the digest, then the encoded result.
 */
type Remembered = Uint8Array;

/** Bytes of a remembered request's head: the flag. */
const HEAD_BYTES = 1;

function packRemembered(arena: ByteArena, result: Uint8Array, digest?: Uint8Array): Handle {
  const digestBytes = digest?.byteLength ?? 0;
  const handle = arena.alloc(HEAD_BYTES + digestBytes + result.byteLength);
  const out = arena.view(handle);
  out[0] = digest === undefined ? 0 : 1;
  if (digest !== undefined) out.set(digest, HEAD_BYTES);
  out.set(result, HEAD_BYTES + digestBytes);
  return handle;
}

function rememberedDigest(r: Remembered): Uint8Array | undefined {
  return r[0] === 1 ? r.subarray(HEAD_BYTES, HEAD_BYTES + COMMAND_DIGEST_BYTES) : undefined;
}

function rememberedResult(r: Remembered): Uint8Array {
  return r.subarray(r[0] === 1 ? HEAD_BYTES + COMMAND_DIGEST_BYTES : HEAD_BYTES);
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
  put(seq: number, entry: RequestEntry): void;
  /** Every entry put under a number below `seq` is forgotten; `seq` never decreases. */
  forgetBefore(seq: number): void;
}

export class RequestLog {
  /** Each id's bytes in the arena, oldest first: a number rather than a view keeps ~100 bytes per entry off the heap. */
  private readonly results = new Map<string, Handle>();
  /**
   * Every id added, with its handle, oldest first from `head`: the next to
   * forget is found here, not by iterating `results` from its start, which
   * in V8 walks every slot deleted since the table was last rebuilt (at a
   * full window, tens of thousands per add). An id added again leaves its
   * older pair behind, skipped because `results` holds a newer handle.
   */
  private readonly order = new AddOrder();
  private readonly arena = new ByteArena();
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
    return [...this.results].map(([id, handle]) => {
      const r = this.arena.view(handle);
      const digest = rememberedDigest(r);
      const result = rememberedResult(r);
      return digest === undefined ? [id, result] : [id, result, digest];
    });
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
    const handle = packRemembered(this.arena, encoded, givenDigest);
    // Its own string: a decoded id is often a slice of a longer one (the
    // decoder's), which a remembered id would otherwise keep alive.
    const own = ownString(id);
    this.results.set(own, handle);
    this.order.push(own, handle, seq);
    this.bytes += this.weight(handle);
    if (this.sink !== undefined) {
      // The arena's copy, which stays as it is, not the caller's bytes: a
      // backend may read them when its commit is written.
      const kept = this.arena.view(handle);
      const result = rememberedResult(kept);
      const digest = rememberedDigest(kept);
      this.sink.put(seq, digest === undefined ? [id, result] : [id, result, digest]);
    }
    while (this.results.size > this.window.maxEntries || this.bytes > this.window.maxBytes) {
      const oldest = this.oldestRemembered();
      invariant(oldest !== undefined, "request log over its window with nothing to forget");
      this.order.shift();
      this.forget(oldest[0], oldest[1]);
    }
    // None when the entry just added weighs more than the whole window.
    const oldest = this.oldestRemembered();
    const from = oldest === undefined ? this.nextSeq : oldest[2];
    if (from === this.rememberedFrom) return;
    this.rememberedFrom = from;
    if (oldest !== undefined) this.arena.releaseBefore(oldest[1]);
    this.sink?.forgetBefore(from);
  }

  /** The oldest id still remembered, its handle and number, dropping older pairs of ids added again. */
  private oldestRemembered(): [string, Handle, number] | undefined {
    for (let next = this.order.first(); next !== undefined; next = this.order.first()) {
      if (this.results.get(next[0]) === next[1]) return next;
      this.order.shift();
    }
    return undefined;
  }

  private forget(id: string, handle = this.results.get(id)): void {
    if (handle === undefined) return;
    this.results.delete(id);
    this.bytes -= this.weight(handle);
  }

  /** What a remembered request counts against the window: result and digest bytes. */
  private weight(handle: Handle): number {
    return this.arena.size(handle) - HEAD_BYTES;
  }
}

/** Where an entry's bytes are in a ByteArena: slab number × SLAB_BYTES + offset. */
type Handle = number;

/**
 * A queue of (id, handle, sequence number) triples in the order they were
 * added; compacted as its front is taken. A taken slot lets go of its id at
 * once: until the next compaction the queue may hold as many taken slots as
 * live ones, and their ids would be kept alive with it.
 */
class AddOrder {
  private ids: string[] = [];
  private handles: Handle[] = [];
  private seqs: number[] = [];
  private head = 0;

  push(id: string, handle: Handle, seq: number): void {
    this.ids.push(id);
    this.handles.push(handle);
    this.seqs.push(seq);
  }

  first(): [string, Handle, number] | undefined {
    if (this.head === this.ids.length) return undefined;
    return [this.ids[this.head]!, this.handles[this.head]!, this.seqs[this.head]!];
  }

  shift(): void {
    this.ids[this.head] = "";
    this.head++;
    if (this.head >= 4096 && this.head * 2 >= this.ids.length) {
      this.ids = this.ids.slice(this.head);
      this.handles = this.handles.slice(this.head);
      this.seqs = this.seqs.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * Bump allocation in 64 KiB slabs for the remembered requests, each entry
 * named by a number. Entries are forgotten oldest first, so slabs are
 * released from the front once the oldest entry still remembered lies past
 * them; an entry forgotten out of turn (its id used again) keeps its bytes
 * until then. A slab is never written twice, so a view handed out (to a
 * snapshot) stays valid after its slab is released. Each entry is
 * prefixed with its length; an entry over a quarter slab gets a slab of
 * its own. Copying into slabs matters: each small Buffer or hash output
 * would otherwise keep alive the whole pool or working buffer it was
 * sliced from, up to 8 KiB each.
 */
class ByteArena {
  private slabs: Buffer[] = [];
  /** The number of the first slab in `slabs`: those before it were released. */
  private firstSlab = 0;
  private used = SLAB_BYTES;

  alloc(n: number): Handle {
    const need = LENGTH_BYTES + n;
    if (need > SLAB_BYTES / 4) {
      this.slabs.push(Buffer.alloc(need));
      this.used = SLAB_BYTES; // the next small entry starts a new slab
      return this.write(this.firstSlab + this.slabs.length - 1, 0, n);
    }
    if (this.used + need > SLAB_BYTES) {
      this.slabs.push(Buffer.alloc(SLAB_BYTES));
      this.used = 0;
    }
    const at = this.used;
    this.used += need;
    return this.write(this.firstSlab + this.slabs.length - 1, at, n);
  }

  /** The entry's bytes (a view; no copy). */
  view(handle: Handle): Uint8Array {
    const [slab, at] = this.locate(handle);
    // A plain Uint8Array, as the results' bytes were before.
    return new Uint8Array(slab.buffer, slab.byteOffset + at + LENGTH_BYTES, slab.readUInt32BE(at));
  }

  size(handle: Handle): number {
    const [slab, at] = this.locate(handle);
    return slab.readUInt32BE(at);
  }

  /** Lets go of every slab before the one holding `handle`. */
  releaseBefore(handle: Handle): void {
    const drop = Math.floor(handle / SLAB_BYTES) - this.firstSlab;
    if (drop <= 0) return;
    this.slabs.splice(0, drop);
    this.firstSlab += drop;
  }

  private write(slabNumber: number, at: number, n: number): Handle {
    this.slabs[slabNumber - this.firstSlab]!.writeUInt32BE(n, at);
    return slabNumber * SLAB_BYTES + at;
  }

  private locate(handle: Handle): [Buffer, number] {
    const slab = this.slabs[Math.floor(handle / SLAB_BYTES) - this.firstSlab];
    invariant(slab !== undefined, () => `request arena has no slab for entry ${handle}`);
    return [slab, handle % SLAB_BYTES];
  }
}

const SLAB_BYTES = 64 * 1024;
const LENGTH_BYTES = 4;

/** A flat copy of an ASCII string. */
function ownString(s: string): string {
  return Buffer.from(s, "latin1").toString("latin1");
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
