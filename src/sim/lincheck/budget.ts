/**
 * The shared allowance of one check: a step count (deterministic) and an
 * optional wall-clock deadline. The clock is read only every few thousand
 * steps so it costs nothing measurable.
 */
export class SearchBudget {
  stepsUsed = 0;
  private readonly deadlineMs: number | undefined;
  private nextClockCheck = 0;

  constructor(
    readonly maxSteps: number,
    private readonly timeoutMs: number | undefined,
    private readonly clock: () => number,
  ) {
    this.deadlineMs = timeoutMs === undefined ? undefined : clock() + timeoutMs;
  }

  /** Spends one step; returns why the search must stop, or undefined to go on. */
  spend(): string | undefined {
    this.stepsUsed++;
    if (this.stepsUsed > this.maxSteps) {
      return `step bound of ${this.maxSteps} reached`;
    }
    if (this.deadlineMs !== undefined && this.stepsUsed >= this.nextClockCheck) {
      this.nextClockCheck = this.stepsUsed + 4096;
      if (this.clock() >= this.deadlineMs) return `timeout of ${this.timeoutMs} ms reached`;
    }
    return undefined;
  }
}
