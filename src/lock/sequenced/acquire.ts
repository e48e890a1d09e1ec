import type { LeaseGrant, LeaseRequest, WaitControl } from "../backend.js";
import type { Clock } from "../clock.js";
import { LockTimeoutError } from "../errors.js";
import type { TokenType } from "../types.js";
import { type SequenceEntry, wouldHoldNow } from "./turn.js";

/**
 * What an attempt answers when its entry left the sequence before it was
 * granted: its etcd lease or ZooKeeper session ended while it waited.
 */
export const ENTRY_LOST = "entry-lost";
export type EntryLost = typeof ENTRY_LOST;

/** The backend-specific steps of {@link acquireInSequence}. */
export interface SequencedAttempts<TToken extends TokenType> {
  /** Reads the sequence as it stands, without joining it. */
  look(): Promise<readonly SequenceEntry[]>;
  /** Creates an entry, waits for its turn and grants it, or withdraws it. */
  attempt(): Promise<LeaseGrant<TToken> | EntryLost>;
}

/**
 * Acquires a lease in a sequence of waiters. A one-shot attempt (deadline
 * already passed) looks first, so it creates nothing when the lock is taken.
 * An entry that vanished while queued (the process stalled or was cut off)
 * queues again, at the back, while the deadline allows.
 */
export async function acquireInSequence<TToken extends TokenType>(
  clock: Clock,
  request: LeaseRequest,
  wait: WaitControl,
  attempts: SequencedAttempts<TToken>,
): Promise<LeaseGrant<TToken>> {
  if (wait.deadlineMs <= clock.now()) {
    if (!wouldHoldNow(request.kind, await attempts.look(), request.permits)) {
      throw new LockTimeoutError(request.name, wait.waitMs);
    }
  }
  for (;;) {
    const grant = await attempts.attempt();
    if (grant !== ENTRY_LOST) return grant;
    if (clock.now() >= wait.deadlineMs) {
      throw new LockTimeoutError(request.name, wait.waitMs);
    }
  }
}
