/**
 * The history of one partition as a doubly linked list of call and return
 * entries in time order, with slot 0 as the sentinel (head and end).
 * Linearizing an operation unlinks its call and return entries; backtracking
 * relinks them in reverse order, which restores the list exactly because the
 * search undoes its moves last-in first-out.
 *
 * An operation with an unknown outcome has only a call entry: it never
 * returned, so nothing ever has to wait for it.
 */
export class EntryList {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** Operation index of each entry. */
  readonly operation: Int32Array;
  /** 1 for a call entry, 0 for a return entry. */
  readonly isCall: Uint8Array;
  /** For a call entry: its return entry, or -1 when the outcome is unknown. */
  readonly returnEntry: Int32Array;
  /** The call entry of each operation. */
  readonly callEntry: Int32Array;
  private readonly initialNext: Int32Array;
  private readonly initialPrev: Int32Array;

  /**
   * `calls[i]` / `rets[i]` are operation i's timestamps (`rets[i]` undefined
   * for an unknown outcome). At equal timestamps calls sort before returns,
   * so operations that merely touch count as concurrent: the checker never
   * orders two operations the clock could not tell apart.
   */
  constructor(calls: readonly number[], rets: readonly (number | undefined)[]) {
    const raw: { time: number; isCall: boolean; operation: number }[] = [];
    for (let i = 0; i < calls.length; i++) {
      raw.push({ time: calls[i]!, isCall: true, operation: i });
      const ret = rets[i];
      if (ret !== undefined) raw.push({ time: ret, isCall: false, operation: i });
    }
    raw.sort(
      (a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.operation - b.operation,
    );
    const size = raw.length + 1;
    this.next = new Int32Array(size);
    this.prev = new Int32Array(size);
    this.operation = new Int32Array(size).fill(-1);
    this.isCall = new Uint8Array(size);
    this.returnEntry = new Int32Array(size).fill(-1);
    const callEntryOf = new Int32Array(calls.length);
    this.callEntry = callEntryOf;
    for (let slot = 1; slot < size; slot++) {
      const entry = raw[slot - 1]!;
      this.operation[slot] = entry.operation;
      if (entry.isCall) {
        this.isCall[slot] = 1;
        callEntryOf[entry.operation] = slot;
      } else {
        this.returnEntry[callEntryOf[entry.operation]!] = slot;
      }
    }
    for (let slot = 0; slot < size; slot++) {
      this.next[slot] = (slot + 1) % size;
      this.prev[slot] = (slot + size - 1) % size;
    }
    this.initialNext = this.next.slice();
    this.initialPrev = this.prev.slice();
  }

  /** Relinks every entry, as before any `lift`. */
  reset(): void {
    this.next.set(this.initialNext);
    this.prev.set(this.initialPrev);
  }

  /** Unlinks a call entry and its return entry. */
  lift(callEntry: number): void {
    this.unlink(callEntry);
    const ret = this.returnEntry[callEntry]!;
    if (ret !== -1) this.unlink(ret);
  }

  /** Undoes the matching `lift`. */
  unlift(callEntry: number): void {
    const ret = this.returnEntry[callEntry]!;
    if (ret !== -1) this.relink(ret);
    this.relink(callEntry);
  }

  private unlink(slot: number): void {
    const before = this.prev[slot]!;
    const after = this.next[slot]!;
    this.next[before] = after;
    this.prev[after] = before;
  }

  private relink(slot: number): void {
    this.next[this.prev[slot]!] = slot;
    this.prev[this.next[slot]!] = slot;
  }
}
