import type { LeaseRequest, WaitControl } from "../backend.js";
import type { Clock } from "../clock.js";
import { LockTimeoutError } from "../errors.js";
import { ENTRY_LOST, type EntryLost } from "./acquire.js";
import { type SequenceEntry, type Turn, turnOf } from "./turn.js";
import { waitForWake } from "./wake.js";

/** A turn that is not yet due: what the waiter must watch. */
export type BlockedTurn = Extract<Turn, { readonly kind: "after" | "after-any" }>;

/** How {@link waitForTurn} reads and watches one backend's sequence. */
export interface TurnWait<TSnapshot> {
  readonly clock: Clock;
  readonly request: LeaseRequest;
  readonly wait: WaitControl;
  /** Longest time a watch is trusted without reading the sequence again. */
  readonly recheckMs: number;
  /** Aborts when the backend closes. */
  readonly closing: AbortSignal;
  /** The waiter's own entry. */
  readonly mine: { readonly id: string; readonly position: bigint };
  /** The sequence as read once the entry existed. */
  readonly first: TSnapshot;
  entriesOf(snapshot: TSnapshot): readonly SequenceEntry[];
  /**
   * Called once, when the entry first has to wait (before `wait.onQueued`);
   * returns a signal that aborts when the entry loses its place.
   */
  startWaiting(): AbortSignal;
  /** Installs a watch that calls `wake` when the turn may have come; returns how to remove it. */
  watch(
    turn: BlockedTurn,
    snapshot: TSnapshot,
    entries: readonly SequenceEntry[],
    wake: () => void,
  ): () => void;
  /** Reads the sequence again. */
  reread(): Promise<TSnapshot>;
  /** Throws when the backend closed or the caller aborted. */
  throwIfStopped(): void;
}

/** The sequence at the moment the entry's turn came, and whether it had to wait for it. */
export interface TurnCame<TSnapshot> {
  readonly snapshot: TSnapshot;
  readonly waited: boolean;
}

/**
 * Waits until the entry `mine` may hold: watches what blocks it, looks again
 * on every wake-up or recheck, and gives up at the deadline. Answers
 * ENTRY_LOST when the entry left the sequence (or lost its place) meanwhile.
 */
export async function waitForTurn<TSnapshot>(
  turnWait: TurnWait<TSnapshot>,
): Promise<TurnCame<TSnapshot> | EntryLost> {
  const { clock, request, wait } = turnWait;
  let snapshot = turnWait.first;
  let placeLost: AbortSignal | undefined;
  for (;;) {
    const entries = turnWait.entriesOf(snapshot);
    const turn = turnOf(request.kind, entries, turnWait.mine, request.permits);
    if (turn.kind === "granted") return { snapshot, waited: placeLost !== undefined };
    if (turn.kind === "gone") return ENTRY_LOST;
    if (placeLost === undefined) {
      if (clock.now() >= wait.deadlineMs) throw new LockTimeoutError(request.name, wait.waitMs);
      turnWait.throwIfStopped();
      placeLost = turnWait.startWaiting();
      wait.onQueued();
    }
    const watched = snapshot;
    const reason = await waitForWake(
      {
        clock,
        deadlineMs: wait.deadlineMs,
        recheckMs: turnWait.recheckMs,
        signals: [wait.signal, turnWait.closing, placeLost],
      },
      (wake) => turnWait.watch(turn, watched, entries, wake),
    );
    turnWait.throwIfStopped();
    if (reason === "deadline") throw new LockTimeoutError(request.name, wait.waitMs);
    if (placeLost.aborted) return ENTRY_LOST;
    snapshot = await turnWait.reread();
  }
}
