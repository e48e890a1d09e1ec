/**
 * Whose turn it is, for backends whose waiters form one ordered sequence per
 * lock name: etcd keys ordered by create_revision, ZooKeeper sequential
 * znodes ordered by their sequence number. Every entry is created once, in
 * arrival order, and only ever deleted, so the entries ahead of a waiter only
 * shrink: the recipes of both systems (and this module) rest on that.
 */
import type { LeaseKind } from "../types.js";

/** One waiter or holder in the sequence. */
export interface SequenceEntry {
  /** What the backend watches for deletion: an etcd key, a znode name. */
  readonly id: string;
  /** The position: strictly increasing in creation order. */
  readonly position: bigint;
  /** False only for readers of a read-write lock; they do not exclude each other. */
  readonly exclusive: boolean;
}

export type Turn =
  | { readonly kind: "granted" }
  /** The entry is not (any longer) in the sequence: its lease or session ended. */
  | { readonly kind: "gone" }
  /** Blocked until this single entry is deleted (then look again). */
  | { readonly kind: "after"; readonly predecessor: SequenceEntry }
  /** A semaphore: blocked until any entry ahead is deleted (then look again). */
  | { readonly kind: "after-any"; readonly ahead: number };

/**
 * Decides whether `mine` may hold, given every entry of the sequence (in any
 * order). A waiter is blocked only by entries created before it, so later
 * arrivals never overtake (FIFO), and each waiter waits on one predecessor:
 *
 * - mutex, leader, write: the nearest entry ahead of any kind;
 * - read: the nearest exclusive (writer) entry ahead;
 * - semaphore: held while fewer than `permits` entries are ahead; any of
 *   them leaving can admit it, so it waits on all of them.
 */
export function turnOf(
  kind: LeaseKind,
  entries: readonly SequenceEntry[],
  mine: { readonly id: string; readonly position: bigint },
  permits = 1,
): Turn {
  if (!entries.some((e) => e.id === mine.id)) return { kind: "gone" };
  return blockerOf(kind, entries, mine.position, permits);
}

/**
 * The same rule for a request that has no entry yet (a one-shot attempt that
 * looks before it queues): would an entry created now hold at once?
 */
export function wouldHoldNow(
  kind: LeaseKind,
  entries: readonly SequenceEntry[],
  permits = 1,
): boolean {
  return blockerOf(kind, entries, null, permits).kind === "granted";
}

function blockerOf(
  kind: LeaseKind,
  entries: readonly SequenceEntry[],
  position: bigint | null,
  permits: number,
): Turn {
  const ahead = entries.filter((e) => position === null || e.position < position);
  if (kind === "semaphore") {
    return ahead.length < permits
      ? { kind: "granted" }
      : { kind: "after-any", ahead: ahead.length };
  }
  const blocking = kind === "read" ? ahead.filter((e) => e.exclusive) : ahead;
  let predecessor: SequenceEntry | undefined;
  for (const entry of blocking) {
    if (predecessor === undefined || entry.position > predecessor.position) predecessor = entry;
  }
  return predecessor === undefined ? { kind: "granted" } : { kind: "after", predecessor };
}
