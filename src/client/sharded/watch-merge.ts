/**
 * Many producers (one per shard's stream), one consumer: items are handed
 * over in the order they were offered, and a producer waits until its item
 * was taken, so each holds at most one item here. A slow consumer therefore
 * slows the streams' reading, and the server (not this process) decides
 * what a slow reader may hold (it cuts the stream, and the watch resumes).
 */
export class HandOff<T> {
  private readonly offered: { item: T; taken: (taken: boolean) => void }[] = [];
  private readonly readers: {
    resolve: (r: IteratorResult<T, undefined>) => void;
    reject: (error: unknown) => void;
  }[] = [];
  private ended = false;
  private failure: { error: unknown } | undefined;

  /** Items offered and not yet taken. */
  get length(): number {
    return this.offered.length;
  }

  /** Resolves true once the consumer took `item`, false if the hand-off ended first. */
  offer(item: T): Promise<boolean> {
    if (this.ended || this.failure !== undefined) return Promise.resolve(false);
    const reader = this.readers.shift();
    if (reader !== undefined) {
      reader.resolve({ done: false, value: item });
      return Promise.resolve(true);
    }
    return new Promise((taken) => this.offered.push({ item, taken }));
  }

  /** The next item; done once ended; rejects with the failure after what was offered before it. */
  take(): Promise<IteratorResult<T, undefined>> {
    const next = this.offered.shift();
    if (next !== undefined) {
      next.taken(true);
      return Promise.resolve({ done: false, value: next.item });
    }
    if (this.failure !== undefined) {
      const { error } = this.failure;
      // Thrown once; the iterator is done after.
      this.failure = undefined;
      this.ended = true;
      return Promise.reject(error);
    }
    if (this.ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => this.readers.push({ resolve, reject }));
  }

  /**
   * Ends with `error`: what was offered is still taken first, then take()
   * rejects once. A producer offering after this is told false.
   */
  fail(error: unknown): void {
    if (this.ended || this.failure !== undefined) return;
    const [first, ...rest] = this.readers.splice(0);
    if (first === undefined) {
      this.failure = { error };
      return;
    }
    // A reader waits only when nothing was offered: it gets the error, any other done.
    this.ended = true;
    first.reject(error);
    for (const reader of rest) reader.resolve({ done: true, value: undefined });
  }

  /** Ends now: what was offered is dropped (its producers are told false), readers get done. */
  close(): void {
    this.ended = true;
    this.failure = undefined;
    for (const { taken } of this.offered.splice(0)) taken(false);
    for (const reader of this.readers.splice(0)) reader.resolve({ done: true, value: undefined });
  }
}
