/** Returned by `SearchBudget.spend` when only the current slice, not the whole budget, is spent. */
export const SLICE_SPENT = "slice spent";

/**
 * The shared allowance of one check: a step count (deterministic) and an
 * optional wall-clock deadline. The clock is read only every few thousand
 * steps so it costs nothing measurable. A search may also open a slice, a
 * smaller allowance inside the budget, to bound one strategy before trying
 * another.
 */
export class SearchBudget {
  stepsUsed = 0;
  private readonly deadlineMs: number | undefined;
  private nextClockCheck = 0;
  private sliceEnd = Number.POSITIVE_INFINITY;

  constructor(
    readonly maxSteps: number,
    private readonly timeoutMs: number | undefined,
    private readonly clock: () => number,
  ) {
    this.deadlineMs = timeoutMs === undefined ? undefined : clock() + timeoutMs;
  }

  /** Limits the following steps to `steps` more until `closeSlice`. */
  openSlice(steps: number): void {
    this.sliceEnd = this.stepsUsed + steps;
  }

  closeSlice(): void {
    this.sliceEnd = Number.POSITIVE_INFINITY;
  }

  /** Adds bulk work (such as rebuilding the entry list) without checking the bound. */
  charge(steps: number): void {
    this.stepsUsed += steps;
  }

  /**
   * Spends one step; returns why the search must stop (`SLICE_SPENT` when
   * only the slice ran out), or undefined to go on.
   */
  spend(): string | undefined {
    this.stepsUsed++;
    if (this.stepsUsed > this.maxSteps) {
      return `step bound of ${this.maxSteps} reached`;
    }
    if (this.deadlineMs !== undefined && this.stepsUsed >= this.nextClockCheck) {
      this.nextClockCheck = this.stepsUsed + 4096;
      if (this.clock() >= this.deadlineMs) return `timeout of ${this.timeoutMs} ms reached`;
    }
    if (this.stepsUsed > this.sliceEnd) return SLICE_SPENT;
    return undefined;
  }
}
