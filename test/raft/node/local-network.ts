import type { Message, NodeId } from "../../../src/raft/core/index.js";
import { MessageType } from "../../../src/raft/core/index.js";
import type { NodeTransport, TransportHandlers } from "../../../src/raft/node/ports.js";

/**
 * An in-process network for RaftNode tests: messages are delivered on the
 * next macrotask (as a socket would), links can be cut per direction.
 */
export class LocalNetwork {
  private readonly handlers = new Map<NodeId, TransportHandlers>();
  private readonly cut = new Set<string>();

  transport(id: NodeId): NodeTransport {
    return {
      start: async (h) => {
        this.handlers.set(id, h);
      },
      setPeers: () => {},
      send: (messages: readonly Message[]) => {
        for (const m of messages) {
          if (this.cut.has(`${m.from}>${m.to}`)) continue;
          setImmediate(() => {
            if (this.cut.has(`${m.from}>${m.to}`)) return;
            this.handlers.get(m.to)?.onMessage(m);
          });
          if (m.type === MessageType.Snap) {
            setImmediate(() => this.handlers.get(id)?.onSnapshotSent(m.to, true));
          }
        }
      },
      stop: async () => {
        this.handlers.delete(id);
      },
    };
  }

  isolate(id: NodeId, others: readonly NodeId[]): void {
    for (const o of others) {
      this.cut.add(`${id}>${o}`);
      this.cut.add(`${o}>${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }
}
