import { invariant, LogCompactedError, LogUnavailableError } from "../core/errors.js";
import { limitSize } from "../core/log.js";
import type { Entry } from "../core/types.js";
import { entrySize } from "../core/types.js";
import type { LogPosition } from "./records.js";

/**
 * The part of the log held in memory: every entry after `base` (the
 * compaction point, at or before the snapshot index). Answers the core's
 * synchronous reads with the same semantics as MemoryStorage.
 */
export class LogWindow {
  private baseIndex: number;
  private baseTerm: number;
  private ents: Entry[] = [];
  /** Sum of entrySize() over the held entries: payload plus a fixed allowance each. */
  private heldBytes = 0;

  constructor(base: LogPosition) {
    this.baseIndex = base.index;
    this.baseTerm = base.term;
  }

  get base(): LogPosition {
    return { index: this.baseIndex, term: this.baseTerm };
  }

  get bytes(): number {
    return this.heldBytes;
  }

  get length(): number {
    return this.ents.length;
  }

  firstIndex(): number {
    return this.baseIndex + 1;
  }

  lastIndex(): number {
    return this.baseIndex + this.ents.length;
  }

  term(index: number): number {
    if (index < this.baseIndex) throw new LogCompactedError(index, this.firstIndex());
    if (index > this.lastIndex()) throw new LogUnavailableError(index, this.lastIndex());
    return index === this.baseIndex ? this.baseTerm : this.ents[index - this.baseIndex - 1]!.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.baseIndex) throw new LogCompactedError(lo, this.firstIndex());
    if (hi > this.lastIndex() + 1) throw new LogUnavailableError(hi - 1, this.lastIndex());
    return limitSize(this.ents.slice(lo - this.baseIndex - 1, hi - this.baseIndex - 1), maxBytes);
  }

  /** Entries after `index` (index >= base), for rewriting them into a new base segment. */
  entriesAfter(index: number): Entry[] {
    invariant(
      index >= this.baseIndex,
      () => `entries after ${index} reach below base ${this.baseIndex}`,
    );
    return this.ents.slice(index - this.baseIndex);
  }

  /**
   * The lowest index i (base <= i <= index) such that the entries in
   * (i, index] hold at most `maxBytes` (by entrySize): where to compact to
   * so that what is kept behind `index` stays within `maxBytes`.
   */
  floorKeeping(index: number, maxBytes: number): number {
    invariant(
      index >= this.baseIndex && index <= this.lastIndex(),
      () => `floor of ${index} outside [${this.baseIndex}, ${this.lastIndex()}]`,
    );
    let kept = 0;
    let i = index;
    while (i > this.baseIndex) {
      const size = entrySize(this.ents[i - this.baseIndex - 1]!);
      if (kept + size > maxBytes) break;
      kept += size;
      i--;
    }
    return i;
  }

  /** Drops entries after `index` (base <= index <= lastIndex). */
  truncateAfter(index: number): void {
    invariant(
      index >= this.baseIndex && index <= this.lastIndex(),
      () => `truncate after ${index} outside [${this.baseIndex}, ${this.lastIndex()}]`,
    );
    const keep = index - this.baseIndex;
    for (let i = keep; i < this.ents.length; i++) this.heldBytes -= entrySize(this.ents[i]!);
    this.ents.length = keep;
  }

  /** Appends consecutive entries starting right after lastIndex(). */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    invariant(
      first.index === this.lastIndex() + 1,
      () => `append at ${first.index} does not follow last index ${this.lastIndex()}`,
    );
    for (const e of entries) {
      this.ents.push(e);
      this.heldBytes += entrySize(e);
    }
  }

  /** Moves the base forward to `index` (base <= index <= lastIndex), dropping what precedes it. */
  compactTo(index: number): void {
    if (index === this.baseIndex) return;
    const term = this.term(index);
    const drop = index - this.baseIndex;
    for (let i = 0; i < drop; i++) this.heldBytes -= entrySize(this.ents[i]!);
    this.ents = this.ents.slice(drop);
    this.baseIndex = index;
    this.baseTerm = term;
  }

  /** Replaces the whole log with an empty one based at `base` (a snapshot was installed). */
  reset(base: LogPosition): void {
    this.baseIndex = base.index;
    this.baseTerm = base.term;
    this.ents = [];
    this.heldBytes = 0;
  }
}
