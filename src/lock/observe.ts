import { type Clock, sleep } from "./clock.js";
import type { LeaderSnapshot, TokenType } from "./types.js";
import { lateSubscription } from "./wait.js";

export interface LeaderPoll<TToken extends TokenType> {
  readonly clock: Clock;
  readonly signal: AbortSignal;
  /** Longest time between reads (covers missed notifications). */
  readonly maxPollMs: number;
  /** Reads the leader; `changesInMs` says when its lease may end, if known. */
  read(): Promise<{
    snapshot: LeaderSnapshot<TToken> | undefined;
    changesInMs?: number | undefined;
  }>;
  /** Change notifications; resolves once they flow. */
  subscribe(wake: () => void): Promise<() => void>;
}

/**
 * Observes a leader by reading it after every change notification, at the
 * moment its lease may run out, and at least every maxPollMs. Subscribing
 * before the first read means no change between read and wait is missed.
 */
export async function* observeLeaderByPolling<TToken extends TokenType>(
  poll: LeaderPoll<TToken>,
): AsyncGenerator<LeaderSnapshot<TToken> | undefined> {
  const { clock, signal } = poll;
  let notified = false;
  let wakeSleeper: AbortController | undefined;
  const subscription = lateSubscription(
    poll.subscribe(() => {
      notified = true;
      wakeSleeper?.abort();
    }),
  );
  // Subscribe before the first read so no change is missed; a subscription
  // that does not come through in time is adopted later (polling meanwhile).
  const stopWaiting = new AbortController();
  await Promise.race([
    subscription.ready,
    sleep(clock, poll.maxPollMs, AbortSignal.any([signal, stopWaiting.signal])),
  ]);
  stopWaiting.abort();
  try {
    while (!signal.aborted) {
      notified = false;
      const { snapshot, changesInMs } = await poll.read();
      if (signal.aborted) return;
      yield snapshot;
      if (notified) continue;
      const delayMs =
        changesInMs !== undefined && changesInMs > 0
          ? Math.min(changesInMs + 1, poll.maxPollMs)
          : poll.maxPollMs;
      wakeSleeper = new AbortController();
      await sleep(clock, delayMs, AbortSignal.any([signal, wakeSleeper.signal]));
      wakeSleeper = undefined;
    }
  } finally {
    subscription.unsubscribe();
  }
}
