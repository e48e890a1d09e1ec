import { MAX_TERM_JUMP, type NodeId } from "../core/index.js";

/**
 * When a node may follow a peer whose term is more than MAX_TERM_JUMP above
 * its own.
 *
 * Refusing such terms for good would split the cluster: one lie within the
 * jump moves one member's term up by almost MAX_TERM_JUMP, and a member that
 * was a term or two behind then sees every later message from it as a jump
 * too far. So a far term is refused at first, and followed once the same
 * peer has spoken from that far ahead for `holdMs`, and only if it is within
 * two jumps. A peer that lies can then move the cluster's term by at most two
 * jumps per `holdMs`: the term space (2^52) lasts longer than any cluster,
 * where without a bound one message would exhaust it.
 */
export class TermCatchUp {
  /** Per peer: when its current run of far-ahead terms began. */
  readonly #aheadSince = new Map<NodeId, number>();

  constructor(
    private readonly holdMs: number,
    private readonly now: () => number,
  ) {}

  /** The peer spoke from within the jump: a later far term starts a new wait. */
  settled(peer: NodeId): void {
    if (this.#aheadSince.size > 0) this.#aheadSince.delete(peer);
  }

  /** Whether `term`, more than one jump above `localTerm`, may be followed now. */
  admits(peer: NodeId, term: number, localTerm: number): boolean {
    if (term > localTerm + 2 * MAX_TERM_JUMP) return false;
    const now = this.now();
    const since = this.#aheadSince.get(peer);
    if (since === undefined) {
      this.#aheadSince.set(peer, now);
      return false;
    }
    if (now - since < this.holdMs) return false;
    this.#aheadSince.delete(peer);
    return true;
  }
}
