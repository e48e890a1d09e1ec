import type { Message, NodeId } from "./types.js";

interface ReadIndexRequest {
  readonly index: number;
  readonly request: Message;
  readonly acks: Set<NodeId>;
}

/**
 * Pending ReadIndex requests at the leader (thesis 6.4). Each remembers the
 * commit index when it arrived; once a quorum answers a heartbeat carrying a
 * request's context, that request and every one queued before it may be
 * served: the quorum's answer proves leadership at a time after all of them.
 */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexRequest>();
  private queue: string[] = [];

  add(index: number, request: Message): void {
    if (this.pending.has(request.context)) return;
    this.pending.set(request.context, { index, request, acks: new Set() });
    this.queue.push(request.context);
  }

  /** Records an acknowledgement; returns who has acknowledged so far. */
  recvAck(from: NodeId, context: string): ReadonlySet<NodeId> | undefined {
    const rs = this.pending.get(context);
    if (rs === undefined) return undefined;
    rs.acks.add(from);
    return rs.acks;
  }

  /** Removes and returns every request up to and including `context`. */
  advance(context: string): { index: number; request: Message }[] {
    const at = this.queue.indexOf(context);
    if (at < 0) return [];
    const released = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    return released.map((ctx) => {
      const rs = this.pending.get(ctx)!;
      this.pending.delete(ctx);
      return { index: rs.index, request: rs.request };
    });
  }

  lastPendingContext(): string {
    return this.queue[this.queue.length - 1] ?? "";
  }

  get size(): number {
    return this.queue.length;
  }
}
