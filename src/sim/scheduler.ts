/**
 * A virtual clock and an event queue. Events at the same time run in the
 * order they were scheduled, so a run is a pure function of its seed. The
 * code under test is asynchronous (promises): `run` lets every promise
 * chain an event starts settle before the next event, as a process's event
 * loop drains its microtasks before the next I/O callback. Nothing else may
 * schedule macrotasks while a run is in progress, or replay breaks.
 */
interface SimEvent {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
  cancelled?: boolean;
}

export class Scheduler {
  now = 0;
  private seq = 0;
  private heap: SimEvent[] = [];
  eventsRun = 0;

  at(time: number, run: () => void): void {
    this.push({ at: Math.max(time, this.now), seq: this.seq++, run });
  }

  after(delayMs: number, run: () => void): void {
    this.at(this.now + delayMs, run);
  }

  /** Like `after`, and returns a function that cancels the event (it is then skipped, not run). */
  timer(delayMs: number, run: () => void): () => void {
    const event: SimEvent = { at: this.now + Math.max(0, delayMs), seq: this.seq++, run };
    this.push(event);
    return () => {
      event.cancelled = true;
    };
  }

  /**
   * Runs events up to virtual time `until` (or until `done()` holds, checked
   * after every event) and returns whether `done()` held; time ends at
   * `until` when it did not.
   */
  async run(until: number, done: () => boolean = () => false): Promise<boolean> {
    await settle();
    if (done()) return true;
    while (this.step(until)) {
      await settle();
      if (done()) return true;
    }
    this.now = Math.max(this.now, until);
    return done();
  }

  get pending(): number {
    return this.heap.length;
  }

  /** Runs the next event that was not cancelled; false when none is left before `until`. */
  step(until: number): boolean {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > until) return false;
      this.pop();
      if (top.cancelled === true) continue;
      this.now = top.at;
      this.eventsRun++;
      top.run();
      return true;
    }
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

  private push(e: SimEvent): void {
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

/**
 * Lets every pending promise callback run, however deep the chains: Node
 * runs the next-tick queue only once the microtask queue is empty, and this
 * costs far less than a trip through the event loop (setImmediate).
 */
function settle(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}
