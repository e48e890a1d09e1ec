import { HttpApiError } from "./errors.js";

/** More membership changes are already waiting at this member than it queues. */
export class MembershipChangeBusyError extends HttpApiError {
  constructor(waiting: number) {
    super(
      429,
      "MEMBERSHIP_CHANGE_BUSY",
      `${waiting} membership changes are already waiting at this member; retry later`,
    );
  }
}

/**
 * Runs membership changes one at a time, each checked against the
 * configuration the previous one left: two adds checked together could each
 * pass and together lose the quorum. The queue is bounded so that a stuck
 * change (no quorum to commit it) cannot pile up requests behind it.
 */
export class ChangeLane {
  private last: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  constructor(private readonly maxWaiting: number) {}

  run<T>(change: () => Promise<T>): Promise<T> {
    if (this.waiting >= this.maxWaiting) {
      return Promise.reject(new MembershipChangeBusyError(this.waiting));
    }
    this.waiting++;
    const settle = () => {
      this.waiting--;
    };
    const run = this.last.then(change, change);
    run.then(settle, settle);
    this.last = run.catch(() => undefined);
    return run;
  }
}
