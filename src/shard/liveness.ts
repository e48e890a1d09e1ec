/**
 * Which peer processes answer, judged once per node pair rather than per
 * group: every interval this node pings each peer on the control channel,
 * and a peer it has heard nothing from (ping or other control traffic) for
 * `timeoutMs` is down. Quiescent groups depend on it: their leader sends no
 * heartbeats, so when a peer goes down the groups it takes part in must be
 * woken to notice (see raft/node/quiescence.ts).
 */
import type { Clock } from "../clock.js";
import type { NodeId } from "../raft/core/types.js";

export interface PeerLivenessOptions {
  readonly clock: Clock;
  readonly intervalMs: number;
  /** Silence after which a peer is down. */
  readonly timeoutMs: number;
  /** The peers to watch now (this node excluded). */
  peers(): Iterable<NodeId>;
  /** Sends a ping to `peer`. */
  ping(peer: NodeId): void;
  /** `peer` went silent (once per silence; it is up again when heard from). */
  onDown(peer: NodeId): void;
}

export class PeerLiveness {
  private readonly lastHeard = new Map<NodeId, number>();
  private readonly down = new Set<NodeId>();
  private cancel: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly opts: PeerLivenessOptions) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  /** Something arrived from `peer`. */
  heard(peer: NodeId): void {
    this.lastHeard.set(peer, this.opts.clock.now());
    this.down.delete(peer);
  }

  isDown(peer: NodeId): boolean {
    return this.down.has(peer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.cancel = this.opts.clock.setTimer(() => {
      this.round();
      this.schedule();
    }, this.opts.intervalMs);
  }

  private round(): void {
    const now = this.opts.clock.now();
    const watched = new Set(this.opts.peers());
    for (const peer of this.lastHeard.keys()) {
      if (!watched.has(peer)) {
        this.lastHeard.delete(peer);
        this.down.delete(peer);
      }
    }
    for (const peer of watched) {
      this.opts.ping(peer);
      // A peer first watched now gets a whole timeout to be heard from.
      const heard = this.lastHeard.get(peer) ?? now;
      this.lastHeard.set(peer, heard);
      if (now - heard > this.opts.timeoutMs && !this.down.has(peer)) {
        this.down.add(peer);
        this.opts.onDown(peer);
      }
    }
  }
}
