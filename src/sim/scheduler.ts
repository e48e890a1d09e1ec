/**
 * A virtual clock and an event queue. Events at the same time run in the
 * order they were scheduled, so a run is a pure function of its seed.
 */
export class Scheduler {
  now = 0;
  private seq = 0;
  private heap: { at: number; seq: number; run: () => void }[] = [];
  eventsRun = 0;

  at(time: number, run: () => void): void {
    this.push({ at: Math.max(time, this.now), seq: this.seq++, run });
  }

  after(delayMs: number, run: () => void): void {
    this.at(this.now + delayMs, run);
  }

  get pending(): number {
    return this.heap.length;
  }

  /** Runs the next event; false when none is left or the next is past `until`. */
  step(until: number): boolean {
    const top = this.heap[0];
    if (top === undefined || top.at > until) return false;
    this.pop();
    this.now = top.at;
    this.eventsRun++;
    top.run();
    return true;
  }

  private less(a: number, b: number): boolean {
    const x = this.heap[a]!;
    const y = this.heap[b]!;
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }

  private swap(a: number, b: number): void {
    const t = this.heap[a]!;
    this.heap[a] = this.heap[b]!;
    this.heap[b] = t;
  }

  private push(e: { at: number; seq: number; run: () => void }): void {
    this.heap.push(e);
    let i = this.heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private pop(): void {
    const last = this.heap.pop()!;
    if (this.heap.length === 0) return;
    this.heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.heap.length && this.less(l, m)) m = l;
      if (r < this.heap.length && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}
