import type { Clock } from "../../clock.js";
import { type Message, MessageType, type NodeId } from "../core/types.js";

/**
 * Holds a leader's appends that carry no entries, for up to `holdMs`, before
 * they leave. The core sends one to every follower each time the commit
 * index moves, and each follower answers it: at one write in flight, two of
 * the four messages each way that every write costs. An append to the same
 * peer made meanwhile carries a commit index at least as new and the same
 * log position, and the held one is dropped: under a steady stream of writes
 * followers learn each commit from the next write's append. When writes
 * stop, the held append leaves at the end of its hold, so a follower applies
 * (and serves a serializable read or a watch) at most `holdMs` later than it
 * would have. Nothing waits on a follower's apply to commit or to answer a
 * write, and Raft tolerates a dropped message, so safety does not depend on
 * any of this. Any other message to that peer sends the held one first,
 * keeping each peer's messages in the order the core made them.
 */
export class HeldAppends {
  private readonly held = new Map<NodeId, Message>();
  private cancelTimer: (() => void) | undefined;

  constructor(
    private readonly holdMs: number,
    private readonly clock: Clock,
    private readonly sendNow: (messages: Message[]) => void,
  ) {}

  /** Sends `messages`, holding those that may wait and dropping held ones they make redundant. */
  send(messages: readonly Message[]): void {
    const out: Message[] = [];
    for (const m of messages) {
      if (this.holdMs > 0 && m.type === MessageType.App && m.entries.length === 0) {
        // A newer empty append to the same peer says all the held one did, and more.
        this.held.set(m.to, m);
        continue;
      }
      const held = this.held.get(m.to);
      if (held !== undefined) {
        this.held.delete(m.to);
        if (!(m.type === MessageType.App && m.term === held.term)) out.push(held);
      }
      out.push(m);
    }
    if (out.length > 0) this.sendNow(out);
    if (this.held.size === 0) this.stopTimer();
    else if (this.cancelTimer === undefined) {
      this.cancelTimer = this.clock.setTimer(() => {
        this.cancelTimer = undefined;
        this.flush();
      }, this.holdMs);
    }
  }

  /** Sends every held append now. */
  flush(): void {
    this.stopTimer();
    if (this.held.size === 0) return;
    const out = [...this.held.values()];
    this.held.clear();
    this.sendNow(out);
  }

  /** Forgets every held append (leadership lost, node stopped). */
  drop(): void {
    this.stopTimer();
    this.held.clear();
  }

  private stopTimer(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }
}
