/**
 * The operations of one partition whose outcome is known, as a doubly linked
 * list of call and return entries in time order, slot 0 being the sentinel
 * (head and end). Placing an operation unlinks its call and return entries;
 * backtracking relinks them in reverse order, which restores the list
 * exactly because every move is undone last-in first-out.
 *
 * Operations with an unknown outcome never returned, so nothing ever waits
 * for them; they stay out of the list and the search scans them separately.
 */
export class EntryList {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** Operation index of each entry. */
  readonly operation: Int32Array;
  /** 1 for a call entry, 0 for a return entry. */
  readonly isCall: Uint8Array;
  /** Entry time: the call time of a call entry, the return time of a return entry. */
  readonly time: Float64Array;
  /** For a call entry: its return entry. */
  readonly returnEntry: Int32Array;
  /** The call entry of each operation, or -1 for one with an unknown outcome. */
  readonly callEntry: Int32Array;

  /**
   * At equal timestamps calls sort before returns, so operations that merely
   * touch count as concurrent: the checker never orders two operations the
   * clock could not tell apart.
   */
  constructor(ops: readonly { readonly call: number; readonly ret?: number | undefined }[]) {
    const raw: { time: number; isCall: boolean; operation: number }[] = [];
    for (let i = 0; i < ops.length; i++) {
      const { call, ret } = ops[i]!;
      if (ret === undefined) continue;
      raw.push({ time: call, isCall: true, operation: i });
      raw.push({ time: ret, isCall: false, operation: i });
    }
    raw.sort(
      (a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.operation - b.operation,
    );
    const size = raw.length + 1;
    this.next = new Int32Array(size);
    this.prev = new Int32Array(size);
    this.operation = new Int32Array(size).fill(-1);
    this.isCall = new Uint8Array(size);
    this.time = new Float64Array(size);
    this.returnEntry = new Int32Array(size).fill(-1);
    this.callEntry = new Int32Array(ops.length).fill(-1);
    for (let slot = 1; slot < size; slot++) {
      const entry = raw[slot - 1]!;
      this.operation[slot] = entry.operation;
      this.time[slot] = entry.time;
      if (entry.isCall) {
        this.isCall[slot] = 1;
        this.callEntry[entry.operation] = slot;
      } else {
        this.returnEntry[this.callEntry[entry.operation]!] = slot;
      }
    }
    for (let slot = 0; slot < size; slot++) {
      this.next[slot] = (slot + 1) % size;
      this.prev[slot] = (slot + size - 1) % size;
    }
  }

  /** The first return entry still linked: its operation is the next that must be placed. */
  firstReturn(): number {
    let entry = this.next[0]!;
    while (entry !== 0 && this.isCall[entry] === 1) entry = this.next[entry]!;
    return entry;
  }

  /** Unlinks a call entry and its return entry. */
  lift(callEntry: number): void {
    this.unlink(callEntry);
    this.unlink(this.returnEntry[callEntry]!);
  }

  /** Undoes the matching `lift`. */
  unlift(callEntry: number): void {
    this.relink(this.returnEntry[callEntry]!);
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
