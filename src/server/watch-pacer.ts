/** A stream the pacer can ask to move its queued frames to its socket. */
export interface PacedStream {
  /** Writes what its socket takes without buffering past its mark; returns the bytes written. */
  pump(): number;
}

/**
 * Hands watch frames to sockets a bounded number of bytes per event-loop
 * turn. Giving a 1 MiB revision to a thousand sockets is a thousand kernel
 * copies (over a second of CPU, more on a busy machine); done in one go it
 * stalls every other request of the member for that long. In turns, reads,
 * writes and /status are answered in between, and each stream still gets its
 * frames in order.
 */
export class WatchWritePacer {
  private readonly waiting = new Set<PacedStream>();
  private scheduled = false;

  constructor(private readonly maxBytesPerTurn: number) {}

  schedule(stream: PacedStream): void {
    this.waiting.add(stream);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.turn());
  }

  /** A stream that ended needs no turn. */
  forget(stream: PacedStream): void {
    this.waiting.delete(stream);
  }

  private turn(): void {
    this.scheduled = false;
    let written = 0;
    for (const stream of this.waiting) {
      if (written >= this.maxBytesPerTurn) break;
      this.waiting.delete(stream);
      written += stream.pump();
    }
    if (this.waiting.size > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.turn());
    }
  }
}
