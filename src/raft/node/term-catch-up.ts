import { MAX_TERM_JUMP, type NodeId } from "../core/index.js";

/**
 * Term increases up to this are followed at once: a real cluster moves one
 * term per election, so even a member that slept through a day of elections
 * stays far below it.
 */
export const FREE_TERM_STEP = 2 ** 16;

/**
 * When this node may follow a term more than FREE_TERM_STEP above its own.
 *
 * Such a move is allowed at most once per `holdMs`, whoever asks: a peer
 * that lies about terms can then move this node by at most two jumps per
 * `holdMs`, and the 2^52 term space outlasts any cluster (at 2^33 per ten
 * seconds, about sixty days of uninterrupted lying, each refusal logged).
 *
 * A term more than MAX_TERM_JUMP above ours is refused at first and followed
 * once the same peer has spoken from that far ahead for `holdMs`, and only
 * within two jumps. Refusing it for good would split the cluster: one lie
 * within the jump moves one member up by almost MAX_TERM_JUMP, and a member
 * that was a term or two behind then sees everything from it as too far.
 */
export class TermCatchUp {
  /** Per peer: when its current run of terms beyond one jump began. */
  readonly #farAheadSince = new Map<NodeId, number>();
  #lastLargeMoveAt: number | undefined;

  constructor(
    private readonly holdMs: number,
    private readonly now: () => number,
  ) {}

  /** Whether a message of `term` from `peer` may be let in, as far as its term goes. */
  admits(peer: NodeId, term: number, localTerm: number): boolean {
    if (term <= localTerm + FREE_TERM_STEP) {
      this.#farAheadSince.delete(peer);
      return true;
    }
    if (term > localTerm + 2 * MAX_TERM_JUMP) return false;
    const now = this.now();
    let held = true;
    if (term > localTerm + MAX_TERM_JUMP) {
      const since = this.#farAheadSince.get(peer);
      if (since === undefined) this.#farAheadSince.set(peer, now);
      held = since !== undefined && now - since >= this.holdMs;
    } else {
      this.#farAheadSince.delete(peer);
    }
    const budget =
      this.#lastLargeMoveAt === undefined || now - this.#lastLargeMoveAt >= this.holdMs;
    return held && budget;
  }

  /** A message admitted with a term more than FREE_TERM_STEP ahead was let in: that spends the move. */
  moved(peer: NodeId): void {
    this.#lastLargeMoveAt = this.now();
    this.#farAheadSince.delete(peer);
  }
}
