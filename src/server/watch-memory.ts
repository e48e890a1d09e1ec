/**
 * What the budget counts of one message a stream holds: its size and how
 * many streams hold it. An SSE frame (watch-frames.ts) shared by many
 * streams, or a gRPC watch response held by one.
 */
export interface HeldFrame {
  readonly byteLength: number;
  /** Orders frames by when they were built (WatchFrameEncoder.sequence). */
  readonly seq: number;
  liveHolders: number;
  drainingHolders: number;
}

/** What the member-wide budget needs to know of one watch stream, and how it ends one. */
export interface BudgetedStream {
  /** Seq of the oldest frame the stream still holds; undefined when it holds none. */
  readonly oldestHeldSeq: number | undefined;
  /** Ends the stream with WATCH_TOO_SLOW because the member's watch memory is over budget. */
  cutForTotalBudget(heldBytes: number, maxBytes: number): void;
}

/**
 * The bytes all watch streams of a member hold, counted once per frame however
 * many streams share it, whether queued in the stream or in its socket's
 * writable buffer. Over `maxBytes`, the streams furthest behind (the oldest
 * frame still held) are cut until the rest fits: they are the ones keeping old
 * frames alive, and the ones least likely to catch up.
 *
 * A cut stream keeps what already sits in its socket until the socket drains
 * or its grace ends; those bytes are on their way out, so they count as held
 * but not against the budget, or one cut would cascade into cutting everyone.
 */
export class WatchMemory {
  private held = 0;
  private draining = 0;
  private cuts = 0;
  private readonly streams = new Set<BudgetedStream>();

  constructor(readonly maxBytes: number) {}

  /** Bytes held by watch streams right now, each shared frame once. */
  get heldBytes(): number {
    return this.held;
  }

  /** Of heldBytes, those only ended streams still hold. */
  get drainingBytes(): number {
    return this.draining;
  }

  /** Streams cut so far because the total was over budget. */
  get cutCount(): number {
    return this.cuts;
  }

  add(stream: BudgetedStream): void {
    this.streams.add(stream);
  }

  remove(stream: BudgetedStream): void {
    this.streams.delete(stream);
  }

  hold(frame: HeldFrame): void {
    if (frame.liveHolders === 0) {
      if (frame.drainingHolders === 0) this.held += frame.byteLength;
      else this.draining -= frame.byteLength;
    }
    frame.liveHolders++;
  }

  /** A live holder ends: its stream stopped, so what it holds is only waiting to leave. */
  markDraining(frame: HeldFrame): void {
    frame.liveHolders--;
    frame.drainingHolders++;
    if (frame.liveHolders === 0) this.draining += frame.byteLength;
  }

  release(frame: HeldFrame, draining: boolean): void {
    if (draining) frame.drainingHolders--;
    else frame.liveHolders--;
    // A frame any live stream holds is not draining; the last holder gone frees it.
    if (frame.liveHolders > 0) return;
    if (frame.drainingHolders > 0) {
      if (!draining) this.draining += frame.byteLength;
      return;
    }
    this.held -= frame.byteLength;
    if (draining) this.draining -= frame.byteLength;
  }

  /** Cuts the streams furthest behind until the bytes of live streams fit the budget. */
  enforce(): void {
    if (this.held - this.draining <= this.maxBytes) return;
    const behind = [...this.streams]
      .map((stream) => ({ stream, seq: stream.oldestHeldSeq }))
      .filter((s): s is { stream: BudgetedStream; seq: number } => s.seq !== undefined)
      .sort((a, b) => a.seq - b.seq);
    for (const { stream } of behind) {
      if (this.held - this.draining <= this.maxBytes) return;
      this.cuts++;
      stream.cutForTotalBudget(this.held - this.draining, this.maxBytes);
    }
  }
}
